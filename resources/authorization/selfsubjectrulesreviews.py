"""authorization.k8s.io/v1 SelfSubjectRulesReview (``kubectl auth can-i --list``).

Create-only, never stored: what may the caller do in ``spec.namespace``?  The rules come from
the serving authorizer's ``rules_for`` (each authorizer lists its own; one that cannot makes
the answer ``incomplete``).  Upstream:
``pkg/registry/authorization/selfsubjectrulesreview/rest.go``.
"""
from __future__ import annotations

from apiserver.runtime import errors

from . import reviews


class SelfSubjectRulesReviewStrategy(reviews.ReviewStrategy):
    group = "authorization.k8s.io"
    kind = "SelfSubjectRulesReview"
    plural = "selfsubjectrulesreviews"
    namespaced = False
    verbs = ("create",)
    stored = False
    schema_name = "io.k8s.api.authorization.v1.SelfSubjectRulesReview"

    def create_virtual(self, ctx, namespace, obj):
        """400 without ``spec.namespace``; else 201 with ``status{resourceRules,
        nonResourceRules, incomplete, evaluationError?}``."""
        if ctx.user is None:
            raise errors.BadRequest("no user present on request")
        spec = reviews.mapping(obj.get("spec"))
        target = spec.get("namespace") or ""
        if not target:
            raise errors.BadRequest("no namespace on request")
        try:
            resource, non_resource, incomplete = self.authorizer.rules_for(ctx.user, target)
            status = {"resourceRules": resource, "nonResourceRules": non_resource,
                      "incomplete": incomplete}
        except Exception as exc:  # reported in the answer, as upstream's RulesFor error
            status = {"resourceRules": [], "nonResourceRules": [], "incomplete": True,
                      "evaluationError": str(exc)}
        return reviews.answer(self, obj, status)
