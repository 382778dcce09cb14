"""Kind-aware admission plugins, each registered under its upstream name.

``PLUGINS`` is the registry of declarations ``RbacConfig``-style apps read in ``ready()``:
upstream name → ``module.Class`` of the plugin (one module per plugin, named after it).
Adding a plugin is one module plus one line here."""

PLUGINS = {
    "NamespaceLifecycle": "resources.admission.namespace_lifecycle.NamespaceLifecycle",
    "DefaultTolerationSeconds":
        "resources.admission.default_toleration_seconds.DefaultTolerationSeconds",
    "NodeRestriction": "resources.admission.node_restriction.NodeRestriction",
    # batch E: pods' service accounts, limits, priority and runtime; storage and ingress
    "ServiceAccount": "resources.admission.service_account.ServiceAccount",
    "LimitRanger": "resources.admission.limit_ranger.LimitRanger",
    "Priority": "resources.admission.priority.Priority",
    "DefaultStorageClass": "resources.admission.default_storage_class.DefaultStorageClass",
    "StorageObjectInUseProtection":
        "resources.admission.storage_object_in_use_protection.StorageObjectInUseProtection",
    "PersistentVolumeClaimResize":
        "resources.admission.persistent_volume_claim_resize.PersistentVolumeClaimResize",
    "RuntimeClass": "resources.admission.runtime_class.RuntimeClass",
    "DefaultIngressClass": "resources.admission.default_ingress_class.DefaultIngressClass",
    # batch D: namespaces, images, node selection and tolerations, certificates, deny/admit
    "AlwaysAdmit": "resources.admission.always_admit.AlwaysAdmit",
    "AlwaysDeny": "resources.admission.always_deny.AlwaysDeny",
    "AlwaysPullImages": "resources.admission.always_pull_images.AlwaysPullImages",
    "ImagePolicyWebhook": "resources.admission.image_policy_webhook.ImagePolicyWebhook",
    "CertificateApproval": "resources.admission.certificate_approval.CertificateApproval",
    "CertificateSigning": "resources.admission.certificate_signing.CertificateSigning",
    "CertificateSubjectRestriction":
        "resources.admission.certificate_subject_restriction.CertificateSubjectRestriction",
    "DenyServiceExternalIPs":
        "resources.admission.deny_service_external_ips.DenyServiceExternalIPs",
    "ExtendedResourceToleration":
        "resources.admission.extended_resource_toleration.ExtendedResourceToleration",
    "LimitPodHardAntiAffinityTopology":
        "resources.admission.limit_pod_hard_anti_affinity_topology.LimitPodHardAntiAffinityTopology",
    "NamespaceAutoProvision":
        "resources.admission.namespace_auto_provision.NamespaceAutoProvision",
    "NamespaceExists": "resources.admission.namespace_exists.NamespaceExists",
    "TaintNodesByCondition": "resources.admission.taint_nodes_by_condition.TaintNodesByCondition",
    # batch F: events, owner references, node selectors and toleration restrictions
    "EventRateLimit": "resources.admission.event_rate_limit.EventRateLimit",
    "OwnerReferencesPermissionEnforcement":
        "resources.admission.owner_references_permission_enforcement."
        "OwnerReferencesPermissionEnforcement",
    "PodNodeSelector": "resources.admission.pod_node_selector.PodNodeSelector",
    "PodTolerationRestriction":
        "resources.admission.pod_toleration_restriction.PodTolerationRestriction",
    "ResourceQuota": "resources.admission.resource_quota.ResourceQuota",
    "ValidatingAdmissionPolicy":
        "resources.admission.validating_admission_policy.ValidatingAdmissionPolicy",
    # webhooks (issue 12)
    "MutatingAdmissionWebhook":
        "resources.admission.mutating_admission_webhook.MutatingAdmissionWebhook",
    "ValidatingAdmissionWebhook":
        "resources.admission.validating_admission_webhook.ValidatingAdmissionWebhook",
    # the Pod Security Standards (baseline, restricted) from namespace labels
    "PodSecurity": "resources.admission.pod_security.PodSecurity",
    # in 1.32's default set, inert while their alpha feature gates are off (upstream default)
    "ClusterTrustBundleAttest":
        "resources.admission.cluster_trust_bundle_attest.ClusterTrustBundleAttest",
    "MutatingAdmissionPolicy":
        "resources.admission.mutating_admission_policy.MutatingAdmissionPolicy",
}
