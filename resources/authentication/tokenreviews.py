"""authentication.k8s.io/v1 TokenReview: who does this bearer token belong to?  What webhook
token authenticators and aggregated API servers ask.  Create-only and never stored.

Upstream: kubernetes/kubernetes:pkg/registry/authentication/tokenreview/storage.go — an
empty token is 400; the token is checked for ``spec.audiences`` (default: the API's
audiences) by the server's own token authenticators, as a request bearing it would be; the
answer is ``status{authenticated, user, audiences, error}`` and the review as sent.  A token
that authenticates for none of the audiences asked for is an error of the authenticator's
(500), as upstream's ``badAuthenticatorAuds``.
"""
from __future__ import annotations

from apiserver.authentication.base import AuthenticationError, with_authenticated_group
from apiserver.authentication.mechanisms import api_audiences, token_authenticator
from apiserver.registry.initializer import WantsAuthenticator, WantsOptions
from apiserver.registry.strategy import Strategy
from apiserver.runtime import errors

from .selfsubjectreviews import user_info

INVALID = "invalid bearer token"


class TokenReviewStrategy(Strategy, WantsAuthenticator, WantsOptions):
    group = "authentication.k8s.io"
    kind = "TokenReview"
    plural = "tokenreviews"
    namespaced = False
    verbs = ("create",)
    stored = False
    schema_name = "io.k8s.api.authentication.v1.TokenReview"

    tokens = None
    audiences: tuple = ()

    def set_authenticator(self, authenticator) -> None:
        self.tokens = token_authenticator(authenticator) if authenticator is not None else None

    def set_options(self, options) -> None:
        self.audiences = api_audiences(options)

    def create_virtual(self, ctx, namespace, obj):
        """201 with ``status``: authenticated (and the user and audiences) or the error."""
        spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
        token = spec.get("token")
        if not isinstance(token, str) or not token:
            raise errors.BadRequest("token is required for TokenReview in authentication")
        wanted = tuple(a for a in (spec.get("audiences") or ()) if isinstance(a, str))
        wanted = wanted or self.audiences
        status = {"authenticated": False}
        response = None
        try:
            response = self.tokens.authenticate_token(token, wanted) if self.tokens else None
            if response is None:
                status["error"] = INVALID
        except AuthenticationError as err:
            status["error"] = str(err)
        if response is not None:
            got = tuple(response.audiences) or wanted
            if wanted and not set(wanted) & set(got):
                raise errors.InternalError("error validating audience")
            status = {"authenticated": True,
                      "user": user_info(with_authenticated_group(response.user)),
                      "audiences": list(a for a in got if a in wanted)}
        meta = dict(obj.get("metadata") or {})
        meta.setdefault("creationTimestamp", None)   # Go's zero time, as upstream returns it
        out_spec = {"token": token}
        if spec.get("audiences"):
            out_spec["audiences"] = list(spec["audiences"])
        return 201, {"kind": self.kind, "apiVersion": self.api_version(), "metadata": meta,
                     "spec": out_spec, "status": status}
