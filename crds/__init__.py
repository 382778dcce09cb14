"""apiextensions.k8s.io: CustomResourceDefinitions and the custom resources they serve.
Filled in by the CRD issue; today the app only reserves its place.  May import: apiserver."""
