"""Endpoints: DRF views for group/version/resource URLs, discovery and OpenAPI, plus content
negotiation, patch engines and field management.  Errors are rendered as ``Status`` here,
once.  May import: apiserver.runtime, apiserver.registry, apiserver.openapi,
apiserver.filters (RequestInfo only)."""
