"""node.k8s.io/v1: RuntimeClasses.  ``KINDS`` lists its Strategy classes."""

KINDS = (
    "resources.node.runtimeclasses.RuntimeClassStrategy",
)
