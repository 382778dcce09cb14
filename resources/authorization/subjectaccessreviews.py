"""authorization.k8s.io/v1 SubjectAccessReview: may ``spec.user``/``spec.groups`` (with
``uid``, ``extra``) do this, anywhere in the cluster?  Create-only, never stored; what
webhook authorizers and aggregated servers call.  Upstream:
``pkg/registry/authorization/subjectaccessreview/rest.go``.
"""
from __future__ import annotations


from . import reviews


class SubjectAccessReviewStrategy(reviews.ReviewStrategy):
    group = "authorization.k8s.io"
    kind = "SubjectAccessReview"
    plural = "subjectaccessreviews"
    namespaced = False
    verbs = ("create",)
    stored = False
    schema_name = "io.k8s.api.authorization.v1.SubjectAccessReview"

    def create_virtual(self, ctx, namespace, obj):
        """Validate (a user or a group is required), evaluate for the spec's subject."""
        spec = reviews.mapping(obj.get("spec"))
        errs = reviews.validate_spec(spec, require_subject=True) + reviews.metadata_errors(obj)
        if errs:
            raise reviews.invalid(self, errs)
        return reviews.answer(self, obj, reviews.verdict(self.authorizer, spec, reviews.subject_user(spec)))
