"""admissionregistration.k8s.io/v1: webhook configurations and admission policies, stored
and validated here (their effect on requests is the admission chain's).  ``KINDS`` lists
its Strategy classes."""

KINDS = (
    "resources.admissionregistration.mutatingwebhookconfigurations.MutatingWebhookConfigurationStrategy",
    "resources.admissionregistration.validatingwebhookconfigurations.ValidatingWebhookConfigurationStrategy",
    "resources.admissionregistration.validatingadmissionpolicies.ValidatingAdmissionPolicyStrategy",
    "resources.admissionregistration.validatingadmissionpolicybindings."
    "ValidatingAdmissionPolicyBindingStrategy",
)
