"""authentication.k8s.io/v1 SelfSubjectReview (``kubectl auth whoami``).

Create-only and never stored: the answer is the caller's own identity.  Upstream:
``pkg/registry/authentication/selfsubjectreview/rest.go`` (a fresh object whose only metadata
is ``creationTimestamp``, ``status.userInfo`` from the request's user).
"""
from __future__ import annotations

from apiserver.registry.meta import now_rfc3339
from apiserver.registry.strategy import Strategy
from apiserver.runtime import errors


def user_info(user) -> dict:
    """An ``authentication/v1 UserInfo`` (``uid`` and ``extra`` only when set)."""
    info = {"username": user.name}
    if getattr(user, "uid", ""):
        info["uid"] = user.uid
    info["groups"] = list(getattr(user, "groups", ()) or ())
    extra = getattr(user, "extra", None) or {}
    if extra:
        info["extra"] = {k: list(v) if isinstance(v, (list, tuple)) else [str(v)]
                         for k, v in extra.items()}
    return info


class SelfSubjectReviewStrategy(Strategy):
    group = "authentication.k8s.io"
    kind = "SelfSubjectReview"
    plural = "selfsubjectreviews"
    namespaced = False
    verbs = ("create",)
    stored = False
    schema_name = "io.k8s.api.authentication.v1.SelfSubjectReview"

    def create_virtual(self, ctx, namespace, obj):
        """201 with ``status.userInfo`` of the caller; the request body is not used."""
        if ctx.user is None:
            raise errors.BadRequest("no user present on request")
        return 201, {"kind": self.kind, "apiVersion": self.api_version(),
                     "metadata": {"creationTimestamp": now_rfc3339()},
                     "status": {"userInfo": user_info(ctx.user)}}
