"""The coordination API group.  ``KINDS`` lists its Strategy classes."""

KINDS = (
    "resources.coordination.leases.LeaseStrategy",
)
