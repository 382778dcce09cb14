"""The authorization.k8s.io group: access and rules reviews, all create-only and never
stored.  ``KINDS`` lists its Strategy classes; ``reviews`` holds what they share."""

KINDS = (
    "resources.authorization.selfsubjectaccessreviews.SelfSubjectAccessReviewStrategy",
    "resources.authorization.selfsubjectrulesreviews.SelfSubjectRulesReviewStrategy",
    "resources.authorization.subjectaccessreviews.SubjectAccessReviewStrategy",
    "resources.authorization.localsubjectaccessreviews.LocalSubjectAccessReviewStrategy",
)
