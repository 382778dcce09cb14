"""The events API group.  ``KINDS`` lists its Strategy classes."""

KINDS = (
    "resources.events.events.EventStrategy",
)
