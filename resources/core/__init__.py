"""The core (legacy) group, ``/api/v1``.  ``KINDS`` lists its Strategy classes."""

KINDS = (
    "resources.core.namespaces.NamespaceStrategy",
    "resources.core.configmaps.ConfigMapStrategy",
)
