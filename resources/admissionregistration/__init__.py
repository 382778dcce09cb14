"""admissionregistration.k8s.io/v1: webhook configurations and admission policies, stored
and validated here (their effect on requests is the admission chain's).  ``KINDS`` lists
its Strategy classes."""

KINDS = ()
