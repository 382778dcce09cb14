"""The authentication.k8s.io group.  ``KINDS`` lists its Strategy classes.

ServiceAccount tokens (TokenRequest) are the ``serviceaccounts/token`` subresource of the
core group (``resources.core.serviceaccount_token``), not a kind of this group."""

KINDS = (
    "resources.authentication.selfsubjectreviews.SelfSubjectReviewStrategy",
    "resources.authentication.tokenreviews.TokenReviewStrategy",
)
