"""authorization.k8s.io/v1 SelfSubjectAccessReview (``kubectl auth can-i VERB RESOURCE``).

Create-only, never stored: may the *caller* do what ``spec.resourceAttributes`` or
``spec.nonResourceAttributes`` describe?  Upstream:
``pkg/registry/authorization/selfsubjectaccessreview/rest.go``.
"""
from __future__ import annotations

from apiserver.runtime import errors

from . import reviews


class SelfSubjectAccessReviewStrategy(reviews.ReviewStrategy):
    group = "authorization.k8s.io"
    kind = "SelfSubjectAccessReview"
    plural = "selfsubjectaccessreviews"
    namespaced = False
    verbs = ("create",)
    stored = False
    schema_name = "io.k8s.api.authorization.v1.SelfSubjectAccessReview"

    def create_virtual(self, ctx, namespace, obj):
        """Validate the spec, ask the serving authorizer about ``ctx.user``; 201 with the
        spec echoed and ``status`` filled in."""
        spec = reviews.mapping(obj.get("spec"))
        errs = reviews.validate_spec(spec, require_subject=False) + reviews.metadata_errors(obj)
        if errs:
            raise reviews.invalid(self, errs)
        if ctx.user is None:
            raise errors.BadRequest("no user present on request")
        return reviews.answer(self, obj, reviews.verdict(self.authorizer, spec, ctx.user))
