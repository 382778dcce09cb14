"""The batch API group.  ``KINDS`` lists its Strategy classes."""

KINDS = ()
