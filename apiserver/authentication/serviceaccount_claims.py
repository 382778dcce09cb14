"""Service-account tokens: the checks that follow a good signature, and the user.

* Legacy Secret-based tokens (pkg/serviceaccount/legacy.go ``legacyValidator``): the four
  ``kubernetes.io/serviceaccount/*`` claims and ``sub``; with ``--service-account-lookup`` the
  Secret still holds this very token (and, stricter than upstream, is of type
  ``kubernetes.io/service-account-token``), the ServiceAccount still has the claimed uid and
  the Secret is not labelled ``kubernetes.io/legacy-token-invalid-since``.  Upstream's
  last-used label is not written (authenticators here do not write).
* Bound tokens (pkg/serviceaccount/claims.go ``validator``): ``nbf``/``exp``/``iat`` with one
  minute of leeway, then the ServiceAccount and the bound Secret, Pod or Node must still exist
  with the claimed uid and not be deleted for longer than the leeway.
* The user (kubernetes/apiserver:pkg/authentication/serviceaccount/util.go ``UserInfo``).

Messages are upstream's; none contains the token.

May import: apiserver.authentication.
"""
from __future__ import annotations

import base64
import binascii
import datetime
import hmac
import re

from apiserver.authentication.base import AuthenticationError
from apiserver.authentication.user import UserInfo

LEGACY_ISSUER = "kubernetes/serviceaccount"
LEGACY_PREFIX = "kubernetes.io/serviceaccount/"
PRIVATE_CLAIM = "kubernetes.io"
SECRET_TYPE = "kubernetes.io/service-account-token"
INVALID_SINCE_LABEL = "kubernetes.io/legacy-token-invalid-since"
LEEWAY_SECONDS = 60                      # go-jose's jwt.DefaultLeeway
INVALIDATED = "service account token has been invalidated"

USER_PREFIX = "system:serviceaccount:"
ALL_GROUP = "system:serviceaccounts"
POD_NAME_KEY = "authentication.kubernetes.io/pod-name"
POD_UID_KEY = "authentication.kubernetes.io/pod-uid"
NODE_NAME_KEY = "authentication.kubernetes.io/node-name"
NODE_UID_KEY = "authentication.kubernetes.io/node-uid"
CREDENTIAL_ID_KEY = "authentication.kubernetes.io/credential-id"

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


# ---- the user --------------------------------------------------------------------------------
def credential_id(jti) -> str:
    return f"JTI={jti}" if isinstance(jti, str) and jti else ""


def user_info(namespace: str, name: str, uid: str, *, pod=("", ""), node=("", ""),
              credential: str = "") -> UserInfo:
    """Upstream ``ServiceAccountInfo.UserInfo``: pod extras only with both name and uid, the
    node uid only with a node name."""
    extra = {}
    if pod[0] and pod[1]:
        extra[POD_NAME_KEY], extra[POD_UID_KEY] = [pod[0]], [pod[1]]
    if credential:
        extra[CREDENTIAL_ID_KEY] = [credential]
    if node[0]:
        extra[NODE_NAME_KEY] = [node[0]]
        if node[1]:
            extra[NODE_UID_KEY] = [node[1]]
    return UserInfo(name=f"{USER_PREFIX}{namespace}:{name}", uid=uid,
                    groups=(ALL_GROUP, f"{ALL_GROUP}:{namespace}"), extra=extra)


def split_username(username) -> tuple[str, str] | None:
    """(namespace, name) of ``system:serviceaccount:<ns>:<name>``; None if it is not one."""
    if not isinstance(username, str) or not username.startswith(USER_PREFIX):
        return None
    parts = username[len(USER_PREFIX):].split(":")
    if len(parts) != 2:
        return None
    namespace, name = parts
    if len(namespace) > 63 or not _DNS_LABEL.fullmatch(namespace):
        return None
    if len(name) > 253 or not _DNS_SUBDOMAIN.fullmatch(name):
        return None
    return namespace, name


# ---- helpers over stored objects -------------------------------------------------------------
def _meta(obj: dict) -> dict:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _deleted_before(obj: dict, limit: float | None) -> bool:
    """Whether ``obj`` carries a deletionTimestamp (before ``limit``, when one is given)."""
    stamp = _meta(obj).get("deletionTimestamp")
    if not stamp:
        return False
    if limit is None:
        return True
    try:
        when = datetime.datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return True
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when.timestamp() < limit


def _ref(value) -> tuple[str, str] | None:
    """(name, uid) of a ``{name, uid}`` claim; None when absent."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise AuthenticationError("service account token claims could not be validated "
                                  "due to unexpected private claim")
    return str(value.get("name") or ""), str(value.get("uid") or "")


def _not_found(resource: str, name: str) -> AuthenticationError:
    """The getter's error for a missing object (the API's NotFound message)."""
    return AuthenticationError(f'{resource} "{name}" not found')


# ---- legacy Secret-based tokens --------------------------------------------------------------
class LegacyValidator:
    """Upstream ``legacyValidator``; ``lookup`` is ``--service-account-lookup``."""

    def __init__(self, lookup: bool, get_object):
        self.lookup = lookup
        self.get_object = get_object

    def validate(self, token: str, claims: dict, now: float) -> UserInfo:
        def claim(key):
            value = claims.get(LEGACY_PREFIX + key)
            return value if isinstance(value, str) else ""

        if not claims.get("sub"):
            raise AuthenticationError("sub claim is missing")
        namespace, secret_name = claim("namespace"), claim("secret.name")
        sa_name, sa_uid = claim("service-account.name"), claim("service-account.uid")
        for value, what in ((namespace, "namespace"), (secret_name, "secretName"),
                            (sa_name, "serviceAccountName"), (sa_uid, "serviceAccountUID")):
            if not value:
                raise AuthenticationError(f"{what} claim is missing")
        if split_username(claims.get("sub")) != (namespace, sa_name):
            raise AuthenticationError("sub claim is invalid")
        if self.lookup:
            self._check_objects(token, namespace, secret_name, sa_name, sa_uid)
        return user_info(namespace, sa_name, sa_uid)

    def _check_objects(self, token, namespace, secret_name, sa_name, sa_uid) -> None:
        secret = self.get_object("secrets", namespace, secret_name)
        # a Secret of another type never held a token the token controller wrote
        if secret is None or _deleted_before(secret, None) or secret.get("type") != SECRET_TYPE:
            raise AuthenticationError("Token has been invalidated")
        data = secret.get("data") if isinstance(secret.get("data"), dict) else {}
        try:
            stored = base64.b64decode(data.get("token") or "", validate=True)
        except (binascii.Error, ValueError, TypeError):
            stored = b""
        if not hmac.compare_digest(stored, token.encode()):
            raise AuthenticationError("Token does not match server's copy")
        account = self.get_object("serviceaccounts", namespace, sa_name)
        if account is None:
            raise _not_found("serviceaccounts", sa_name)
        if _deleted_before(account, None):
            raise AuthenticationError(f"ServiceAccount {namespace}/{sa_name} has been deleted")
        uid = _meta(account).get("uid", "")
        if uid != sa_uid:
            raise AuthenticationError(f"ServiceAccount UID ({uid}) does not match claim ({sa_uid})")
        labels = _meta(secret).get("labels") or {}
        if isinstance(labels, dict) and labels.get(INVALID_SINCE_LABEL):
            raise AuthenticationError(
                f"the token in secret {namespace}/{secret_name} for service account "
                f"{namespace}/{sa_name} has been marked invalid. Use tokens from the "
                "TokenRequest API or manually created secret-based tokens, or remove the "
                f"'{INVALID_SINCE_LABEL}' label from the secret to temporarily allow use of "
                "this token")


# ---- bound tokens ----------------------------------------------------------------------------
def check_times(claims: dict, now: float) -> None:
    """go-jose's ``Claims.ValidateWithLeeway`` order: nbf, exp, iat; absent ones pass."""
    nbf, exp, iat = (claims.get(k) for k in ("nbf", "exp", "iat"))
    if nbf is not None and now + LEEWAY_SECONDS < nbf:
        raise AuthenticationError("service account token is not valid yet")
    if exp is not None and now - LEEWAY_SECONDS > exp:
        raise AuthenticationError("service account token has expired")
    if iat is not None and now + LEEWAY_SECONDS < iat:
        raise AuthenticationError("service account token is issued in the future")


class BoundValidator:
    """Upstream ``validator`` (claims.go): always looks the objects up."""

    def __init__(self, get_object):
        self.get_object = get_object

    def validate(self, token: str, claims: dict, now: float) -> UserInfo:
        check_times(claims, now)
        private = claims.get(PRIVATE_CLAIM)
        if not isinstance(private, dict):
            raise AuthenticationError("service account token claims could not be validated "
                                      "due to unexpected private claim")
        namespace = str(private.get("namespace") or "")
        sa_name, sa_uid = _ref(private.get("serviceaccount")) or ("", "")
        secret, pod, node = (_ref(private.get(k)) for k in ("secret", "pod", "node"))
        limit = now - LEEWAY_SECONDS          # deleted longer ago than the leeway: invalid

        account = self.get_object("serviceaccounts", namespace, sa_name) if sa_name else None
        if account is None:
            raise _not_found("serviceaccounts", sa_name)
        uid = _meta(account).get("uid", "")
        if uid != sa_uid:
            raise AuthenticationError(f"service account UID ({uid}) does not match claim ({sa_uid})")
        if _deleted_before(account, limit):
            raise AuthenticationError(f"service account {namespace}/{sa_name} has been deleted")
        if secret is not None:
            self._check_bound("secrets", namespace, secret, limit, "secret")
        if pod is not None:
            self._check_bound("pods", namespace, pod, limit, "pod")
        node_ref = ("", "")
        if node is not None:
            if pod is None:                   # a node-bound token: the node must still be there
                self._check_bound("nodes", "", node, limit, "node")
            node_ref = node
        return user_info(namespace, sa_name, sa_uid, pod=pod or ("", ""), node=node_ref,
                         credential=credential_id(claims.get("jti")))

    def _check_bound(self, resource, namespace, ref, limit, what) -> None:
        name, claimed = ref
        obj = self.get_object(resource, namespace, name) if name else None
        if obj is None:
            raise AuthenticationError(INVALIDATED)
        uid = _meta(obj).get("uid", "")
        if uid != claimed:
            raise AuthenticationError(f"{what} UID ({uid}) does not match service account "
                                      f"{what} ref claim ({claimed})")
        if _deleted_before(obj, limit):
            raise AuthenticationError(INVALIDATED)
