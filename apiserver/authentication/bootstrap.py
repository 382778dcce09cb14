"""Bootstrap tokens (``--enable-bootstrap-token-auth``): ``<id>.<secret>`` bearer tokens backed
by Secrets ``kube-system/bootstrap-token-<id>``.  Upstream: kubernetes/kubernetes:plugin/pkg/
auth/authenticator/token/bootstrap/bootstrap.go, with the names and patterns of
staging/src/k8s.io/cluster-bootstrap/token/api/types.go and token/util/helpers.go, and the
Secret helpers of cluster-bootstrap/util/secrets/secrets.go.

A token not of the form ``[a-z0-9]{6}.[a-z0-9]{16}``, or whose Secret does not exist, is not
ours (None).  A Secret that exists but does not vouch for the token is an
:class:`AuthenticationError`, checked in upstream's order: being deleted; type not
``bootstrap.kubernetes.io/token`` or no data; ``token-secret`` differs (compared in constant
time); ``token-id`` differs; ``expiration`` (RFC 3339) past or unparseable;
``usage-bootstrap-authentication`` not ``"true"``; an ``auth-extra-groups`` entry not of the
``system:bootstrappers:`` pattern.  The user is ``system:bootstrap:<id>`` in
``system:bootstrappers`` plus the extra groups (deduplicated and sorted, as upstream).

Secrets are read live through ``deps.get_object`` on every check (the token cache in front
bounds how often).  Unlike upstream's verbose log line, nothing here ever logs or reports the
presented secret.  The tokens know no audiences: ``mechanisms`` wraps this authenticator as
audience-agnostic.

May import: apiserver.authentication.
"""
from __future__ import annotations

import base64
import binascii
import datetime
import hmac
import logging
import re
import time

from apiserver.authentication.base import (AuthenticationError, TokenAuthenticator,
                                           TokenResponse)
from apiserver.authentication.user import UserInfo

log = logging.getLogger("apiserver.authentication")

NAMESPACE = "kube-system"
SECRET_PREFIX = "bootstrap-token-"
SECRET_TYPE = "bootstrap.kubernetes.io/token"
TOKEN_ID_KEY = "token-id"
TOKEN_SECRET_KEY = "token-secret"
EXPIRATION_KEY = "expiration"
USAGE_AUTHENTICATION = "usage-bootstrap-authentication"
EXTRA_GROUPS_KEY = "auth-extra-groups"
USER_PREFIX = "system:bootstrap:"
DEFAULT_GROUP = "system:bootstrappers"

TOKEN_PATTERN = re.compile(r"([a-z0-9]{6})\.([a-z0-9]{16})")
GROUP_PATTERN = re.compile(r"system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]")
# Go's time.RFC3339 as time.Parse reads it: a fractional second is accepted when parsing
RFC3339 = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
                     r"(?:\.([0-9]+))?(?:(Z)|([+-])([0-9]{2}):([0-9]{2}))")


def parse_token(token: str) -> tuple[str, str] | None:
    """(id, secret) of a bootstrap token, None when ``token`` is not one."""
    match = TOKEN_PATTERN.fullmatch(token)
    return (match.group(1), match.group(2)) if match else None


def parse_rfc3339(value: str) -> datetime.datetime | None:
    """The aware datetime of an RFC 3339 timestamp; None when it is not one."""
    m = RFC3339.fullmatch(value)
    if not m:
        return None
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = m.groups()
    try:
        offset = datetime.timedelta(0)
        if not zulu:
            offset = datetime.timedelta(hours=int(off_h), minutes=int(off_m))
            offset = -offset if sign == "-" else offset
        micro = int((fraction or "0")[:6].ljust(6, "0"))
        return datetime.datetime(int(year), int(month), int(day), int(hour), int(minute),
                                 int(second), micro, tzinfo=datetime.timezone(offset))
    except ValueError:      # out-of-range fields, an offset of a day or more
        return None


def secret_data(secret: dict, key: str) -> bytes:
    """The decoded value of ``data[key]``; empty when absent or not valid base64 (upstream
    ``GetData`` answers "" for a missing key)."""
    value = (secret.get("data") or {}).get(key)
    if not isinstance(value, str):
        return b""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return b""


def extra_groups(secret: dict) -> list[str]:
    """``system:bootstrappers`` and the valid ``auth-extra-groups``, sorted; ValueError
    naming the first invalid group."""
    groups = {DEFAULT_GROUP}
    listed = secret_data(secret, EXTRA_GROUPS_KEY).decode("utf-8", "replace")
    if listed:
        for group in listed.split(","):
            if not GROUP_PATTERN.fullmatch(group):
                raise ValueError(f"bootstrap group {group!r} is invalid "
                                 f"(must match {GROUP_PATTERN.pattern})")
            groups.add(group)
    return sorted(groups)


class BootstrapTokenAuthenticator(TokenAuthenticator):
    name = "bootstrap-token"

    def __init__(self, get_secret, clock=time.time):
        """``get_secret(name)``: the live Secret ``kube-system/<name>`` as a dict, or None;
        ``clock()``: the current Unix time."""
        self.get_secret = get_secret
        self.clock = clock

    def authenticate_token(self, token, audiences):
        """The bootstrap user of ``token`` (see the module docstring)."""
        parsed = parse_token(token)
        if parsed is None:
            return None
        token_id, token_secret = parsed
        name = SECRET_PREFIX + token_id
        secret = self.get_secret(name)
        if secret is None:
            log.debug("no secret %s/%s to match a bootstrap bearer token", NAMESPACE, name)
            return None

        def invalid(reason: str):
            return AuthenticationError(
                f"bootstrap secret {NAMESPACE}/{name} matching the bearer token {reason}")

        if (secret.get("metadata") or {}).get("deletionTimestamp"):
            raise invalid("is deleted and awaiting removal")
        if secret.get("type") != SECRET_TYPE or not isinstance(secret.get("data"), dict):
            raise invalid(f"has invalid type, expected {SECRET_TYPE}")
        if not hmac.compare_digest(secret_data(secret, TOKEN_SECRET_KEY),
                                   token_secret.encode()):
            raise invalid(f"has invalid value for key {TOKEN_SECRET_KEY}")
        if secret_data(secret, TOKEN_ID_KEY) != token_id.encode():
            raise invalid(f"has invalid value for key {TOKEN_ID_KEY}")
        if self._expired(secret):
            raise invalid("has expired")
        if secret_data(secret, USAGE_AUTHENTICATION) != b"true":
            raise invalid(f"is not marked {USAGE_AUTHENTICATION}=true")
        try:
            groups = extra_groups(secret)
        except ValueError as err:
            raise invalid(f"has invalid value for key {EXTRA_GROUPS_KEY}: {err}") from None
        return TokenResponse(UserInfo(name=USER_PREFIX + token_id, groups=tuple(groups)))

    def _expired(self, secret: dict) -> bool:
        """Whether ``expiration`` is past; an unparseable one counts as expired (upstream
        ``GetExpiration``); none means the token never expires."""
        raw = secret_data(secret, EXPIRATION_KEY).decode("utf-8", "replace")
        if not raw:
            return False
        when = parse_rfc3339(raw)
        return when is None or when.timestamp() <= self.clock()


def from_options(deps) -> BootstrapTokenAuthenticator | None:
    """On with ``--enable-bootstrap-token-auth``; Secrets come from ``deps.get_object``."""
    if not deps.options.enable_bootstrap_token_auth:
        return None
    get_object = deps.get_object

    def get_secret(name: str):
        return get_object("secrets", NAMESPACE, name)

    return BootstrapTokenAuthenticator(get_secret)
