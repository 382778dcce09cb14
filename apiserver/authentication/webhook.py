"""Bearer tokens checked by a remote TokenReview webhook (upstream kubernetes/apiserver:
plugin/pkg/authenticator/token/webhook/webhook.go, wrapped in a cache as kubernetes/
kubernetes:pkg/kubeapiserver/authenticator/config.go ``newWebhookTokenAuthenticator``).

The server POSTs ``TokenReview{spec: {token, audiences}}`` (``authentication.k8s.io/v1`` or
``v1beta1`` per ``--authentication-token-webhook-version``; the two are the same on the
wire but for ``apiVersion``) to the server named by the kubeconfig of
``--authentication-token-webhook-config-file`` (:mod:`.kubeconfig_client`), and reads
``status{authenticated, user{username, uid, groups, extra}, audiences, error}``:

* audiences, checked first when some are asked for: the webhook's ``status.audiences``, or
  the API's audiences when it returns none, must intersect them (else "not mine", None);
  the intersection is the response's audiences;
* ``authenticated: false`` is None, or :class:`AuthenticationError` with ``status.error``;
* a transport or HTTP failure (after upstream's retries) is an AuthenticationError.

Answers are cached for ``--authentication-token-webhook-cache-ttl`` (2m): successes and
"not authenticated" alike, errors never — upstream's ``tokencache.New(…, cacheErrs=false,
ttl, ttl)``.  The cache key is an HMAC of the audiences and the token (:mod:`.token_cache`).
Neither the review (which carries the token) nor the token is ever logged.

May import: apiserver.authentication.
"""
from __future__ import annotations

import logging

from apiserver.authentication.base import (AuthenticationError, TokenAuthenticator,
                                           TokenResponse)
from apiserver.authentication.kubeconfig_client import WebhookClient, WebhookError
from apiserver.authentication.token_cache import TokenCache
from apiserver.authentication.user import UserInfo

log = logging.getLogger("apiserver.authentication")

GROUP = "authentication.k8s.io"
VERSIONS = ("v1", "v1beta1")


def _strings(value, what: str) -> tuple:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise AuthenticationError(f"webhook returned a malformed TokenReview: {what}")
    return tuple(value)


def _user(user) -> UserInfo:
    """The UserInfo of ``status.user``; AuthenticationError when it is malformed."""
    if not isinstance(user, dict):
        raise AuthenticationError("webhook returned a malformed TokenReview: status.user")
    name, uid = user.get("username", ""), user.get("uid", "")
    if not isinstance(name, str) or not isinstance(uid, str):
        raise AuthenticationError("webhook returned a malformed TokenReview: username/uid")
    extra = user.get("extra") or {}
    if not isinstance(extra, dict):
        raise AuthenticationError("webhook returned a malformed TokenReview: status.user.extra")
    return UserInfo(name=name, uid=uid, groups=_strings(user.get("groups"), "groups"),
                    extra={str(k): list(_strings(v, f"extra {k!r}")) for k, v in extra.items()})


class WebhookTokenAuthenticator(TokenAuthenticator):
    name = "webhook"

    def __init__(self, client: WebhookClient, version: str = "v1",
                 implicit_audiences: tuple = ()):
        """``client`` reaches the webhook; ``version`` is the TokenReview version sent;
        ``implicit_audiences`` (the API's) stand in when the webhook names none."""
        if version not in VERSIONS:
            raise ValueError(f"unsupported authentication webhook version {version!r}, "
                             f"supported versions are {VERSIONS[0]!r}, {VERSIONS[1]!r}")
        self.client = client
        self.api_version = f"{GROUP}/{version}"
        self.implicit_audiences = tuple(implicit_audiences)

    def authenticate_token(self, token, audiences):
        """The webhook's answer for ``token`` (see the module docstring)."""
        wanted = tuple(audiences)
        spec = {"token": token}
        if wanted:
            spec["audiences"] = list(wanted)
        review = {"apiVersion": self.api_version, "kind": "TokenReview",
                  "metadata": {"creationTimestamp": None}, "spec": spec, "status": {}}
        try:
            answer = self.client.post(review)
        except WebhookError as err:
            # an outage or a bad configuration: worth an error line (without the review)
            log.error("Failed to make webhook authenticator request: %s", err)
            raise AuthenticationError(f"webhook token authenticator: {err}") from None
        if answer.get("kind", "TokenReview") != "TokenReview":
            raise AuthenticationError("webhook answered with a kind other than TokenReview")
        status = answer.get("status")
        if not isinstance(status, dict):
            status = {}
        common = ()
        if wanted:
            got = _strings(status.get("audiences"), "audiences") or self.implicit_audiences
            common = tuple(a for a in wanted if a in got)
            if not common:
                return None
        if status.get("authenticated") is not True:
            error = status.get("error")
            if error:
                raise AuthenticationError(str(error))
            return None
        return TokenResponse(_user(status.get("user")), common)


class ReviewCache(TokenCache):
    """:class:`TokenCache` that also keeps "not authenticated" (None) answers, for the same
    TTL as successes; errors pass through uncached (upstream ``cacheErrs=false``)."""

    def __init__(self, inner: TokenAuthenticator, ttl: float, **kw):
        super().__init__(inner, success_ttl=ttl, failure_ttl=0.0, **kw)
        self.name = inner.name

    def authenticate_token(self, token, audiences):
        digest = self._digest(token, audiences)
        entry = self._fresh(digest)
        if entry is not None:
            return entry[0]
        response = self.inner.authenticate_token(token, audiences)
        self._store(digest, self.success_ttl, response, None)
        return response


def from_options(deps) -> TokenAuthenticator | None:
    """On with ``--authentication-token-webhook-config-file``; the kubeconfig is read now
    (ValueError naming the file: the server does not start)."""
    options = deps.options
    path = options.authentication_token_webhook_config_file
    if not path:
        return None
    client = WebhookClient.from_file(path)
    authenticator = WebhookTokenAuthenticator(
        client, options.authentication_token_webhook_version, deps.api_audiences)
    log.info("token webhook %s (TokenReview %s)", client.display, authenticator.api_version)
    ttl = options.authentication_token_webhook_cache_ttl
    return ReviewCache(authenticator, ttl) if ttl > 0 else authenticator
