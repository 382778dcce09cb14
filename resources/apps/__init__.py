"""The apps API group.  ``KINDS`` lists its Strategy classes."""

KINDS = (
    "resources.apps.deployments.DeploymentStrategy",
    "resources.apps.replicasets.ReplicaSetStrategy",
    "resources.apps.statefulsets.StatefulSetStrategy",
    "resources.apps.daemonsets.DaemonSetStrategy",
    "resources.apps.controllerrevisions.ControllerRevisionStrategy",
)
