"""networking.k8s.io/v1: Ingresses, IngressClasses, NetworkPolicies.  ``KINDS`` lists its
Strategy classes."""

KINDS = (
    "resources.networking.ingresses.IngressStrategy",
    "resources.networking.ingressclasses.IngressClassStrategy",
    "resources.networking.networkpolicies.NetworkPolicyStrategy",
)
