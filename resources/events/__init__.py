"""The events API group.  ``KINDS`` lists its Strategy classes."""

KINDS = ()
