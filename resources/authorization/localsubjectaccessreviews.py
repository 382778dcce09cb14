"""authorization.k8s.io/v1 LocalSubjectAccessReview: a SubjectAccessReview confined to the
namespace of its URL (what a namespace admin may ask).  Create-only, never stored.  Upstream:
``pkg/registry/authorization/localsubjectaccessreview/rest.go`` and
``ValidateLocalSubjectAccessReview``.
"""
from __future__ import annotations

from apiserver.runtime import errors

from . import reviews


class LocalSubjectAccessReviewStrategy(reviews.ReviewStrategy):
    group = "authorization.k8s.io"
    kind = "LocalSubjectAccessReview"
    plural = "localsubjectaccessreviews"
    namespaced = True
    verbs = ("create",)
    stored = False
    schema_name = "io.k8s.api.authorization.v1.LocalSubjectAccessReview"

    def create_virtual(self, ctx, namespace, obj):
        """``metadata.namespace`` defaults to the URL's and must equal it; resource
        attributes must name that namespace; non-resource attributes are refused."""
        meta = dict(reviews.mapping(obj.get("metadata")))
        if meta.get("namespace") and meta["namespace"] != namespace:
            raise errors.BadRequest("the namespace of the provided object does not match the "
                                    "namespace sent on the request")
        meta["namespace"] = namespace
        obj = {**obj, "metadata": meta}
        spec = reviews.mapping(obj.get("spec"))
        errs = reviews.validate_spec(spec, require_subject=True)
        errs += reviews.metadata_errors(obj, allow_namespace=True)
        res = spec.get("resourceAttributes")
        if isinstance(res, dict) and (res.get("namespace") or "") != namespace:
            errs.append(errors.invalid("spec.resourceAttributes.namespace",
                                       res.get("namespace") or "", "must match metadata.namespace"))
        non = spec.get("nonResourceAttributes")
        if isinstance(non, dict):
            errs.append(errors.invalid("spec.nonResourceAttributes",
                                       reviews.go_value("NonResourceAttributes",
                                                        reviews.NON_RESOURCE_FIELDS, non),
                                       "disallowed on this kind of request"))
        if errs:
            raise reviews.invalid(self, errs)
        return reviews.answer(self, obj, reviews.verdict(self.authorizer, spec, reviews.subject_user(spec)))
