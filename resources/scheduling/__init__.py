"""The scheduling API group.  ``KINDS`` lists its Strategy classes."""

KINDS = (
    "resources.scheduling.priorityclasses.PriorityClassStrategy",
)
