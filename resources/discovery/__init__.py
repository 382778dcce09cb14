"""The discovery API group.  ``KINDS`` lists its Strategy classes."""

KINDS = (
    "resources.discovery.endpointslices.EndpointSliceStrategy",
)
