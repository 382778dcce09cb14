"""The core (legacy) group, ``/api/v1``.  ``KINDS`` lists its Strategy classes."""

KINDS = (
    "resources.core.namespaces.NamespaceStrategy",
    "resources.core.configmaps.ConfigMapStrategy",
    "resources.core.bindings.BindingStrategy",
    "resources.core.pods.PodStrategy",
    "resources.core.nodes.NodeStrategy",
    "resources.core.services.ServiceStrategy",
    "resources.core.endpoints.EndpointsStrategy",
    "resources.core.secrets.SecretStrategy",
    "resources.core.serviceaccounts.ServiceAccountStrategy",
    "resources.core.events.EventStrategy",
    "resources.core.limitranges.LimitRangeStrategy",
    "resources.core.resourcequotas.ResourceQuotaStrategy",
    "resources.core.persistentvolumes.PersistentVolumeStrategy",
    "resources.core.persistentvolumeclaims.PersistentVolumeClaimStrategy",
    "resources.core.podtemplates.PodTemplateStrategy",
    "resources.core.replicationcontrollers.ReplicationControllerStrategy",
    "resources.core.componentstatuses.ComponentStatusStrategy",
)
