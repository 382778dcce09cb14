"""Quota evaluators: what an object of a kind adds to a ResourceQuota's usage.

Upstream: kubernetes/kubernetes:pkg/quota/v1/evaluator/core/ and
staging/src/k8s.io/apiserver/pkg/quota/v1/generic/."""
