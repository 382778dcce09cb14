"""The apps API group.  ``KINDS`` lists its Strategy classes."""

KINDS = ()
