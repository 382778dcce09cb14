"""networking.k8s.io/v1: Ingresses, IngressClasses, NetworkPolicies.  ``KINDS`` lists its
Strategy classes."""

KINDS = ()
