"""OpenAPI: the built-in type definitions (one source, ``kubernetes-validate``) and the
documents served at /openapi/v3.  May import: apiserver.runtime, apiserver.registry."""
