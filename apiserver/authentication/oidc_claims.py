"""From a verified ID token's claims to the user, as a JWT authenticator maps them
(kubernetes/apiserver:plugin/pkg/authenticator/token/oidc/oidc.go ``AuthenticateToken``,
``getUsername``, ``getGroups``, ``getUID``, ``getExtra``), in upstream's order: username,
groups, uid, extra, the required claims, the claim validation rules, then the user
validation rules.

* username: a claim (a string, prefixed; for ``email``, ``email_verified`` must be true
  when present) or a CEL expression (a non-empty string);
* groups: a claim (a string or a list of strings, each prefixed; absent: none) or an
  expression (a string or a list; ``""``, ``[]`` and null are none);
* uid: a claim (a string) or an expression (a string);
* extra: ``authentication.kubernetes.io/credential-id: JTI=<jti>`` when the token has a
  string ``jti`` (kubernetes/kubernetes#127010), then each ``key: valueExpression``;
* required claims (``--oidc-required-claim``, ``claimValidationRules[].claim``): present,
  a string, equal; claim and user validation rules: CEL, each must be true.

Every failure is an :class:`AuthenticationError` with upstream's message.

May import: apiserver.authentication.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from apiserver.authentication.base import AuthenticationError
from apiserver.authentication.oidc_cel import EvaluationError, as_bool, as_string, as_string_list
from apiserver.authentication.user import UserInfo

CREDENTIAL_ID_KEY = "authentication.kubernetes.io/credential-id"


def json_kind(value) -> str:
    """The JSON kind Go's decoding errors name (``number``, ``array`` …)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return {dict: "object", list: "array", str: "string"}.get(type(value), "null")


def _unmarshal(value, go_type: str) -> str:
    return f"json: cannot unmarshal {json_kind(value)} into Go value of type {go_type}"


def claim_string(claims: dict, name: str) -> str:
    """``claims[name]`` as a string; ValueError with Go's reason (``claim not present``,
    a JSON type mismatch) otherwise."""
    if name not in claims:
        raise ValueError("claim not present")
    value = claims[name]
    if value is None:
        return ""                                # JSON null leaves Go's string empty
    if not isinstance(value, str):
        raise ValueError(_unmarshal(value, "string"))
    return value


def string_or_array(value) -> list[str]:
    """Upstream ``stringOrArray``: a list of strings, or one string."""
    if value is None:
        return []
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    if isinstance(value, str):
        return [value]
    raise ValueError(_unmarshal(value, "string"))


@dataclass(frozen=True)
class Mapping:
    """A compiled PrefixedClaimOrExpression / ClaimOrExpression: ``claim`` with
    ``prefix``, or ``expression`` (an :class:`~.oidc_cel.Expression`), or neither."""

    claim: str = ""
    prefix: str = ""
    expression: object = None


@dataclass(frozen=True)
class ClaimMapper:
    """One JWT authenticator's claim mappings and rules, compiled."""

    username: Mapping
    groups: Mapping = Mapping()
    uid: Mapping = Mapping()
    extra: tuple = ()             # (key, Expression)
    required_claims: tuple = ()   # (claim, required value)
    claim_rules: tuple = ()       # (Expression, message)
    user_rules: tuple = ()        # (Expression, message)

    def user(self, claims: dict) -> UserInfo:
        """The user these verified claims describe."""
        name = self._username(claims)
        groups = self._groups(claims)
        uid = self._uid(claims)
        extra = self._extra(claims)
        self._required(claims)
        _check(self.claim_rules, claims, "oidc: error evaluating claim validation expression")
        user = UserInfo(name=name, uid=uid, groups=tuple(groups), extra=extra)
        if self.user_rules:
            _check(self.user_rules, {"username": user.name, "uid": user.uid,
                                     "groups": list(user.groups), "extra": dict(user.extra)},
                   "oidc: error evaluating user info validation rule")
        return user

    def _username(self, claims: dict) -> str:
        m = self.username
        if m.expression is not None:
            where = "oidc: error evaluating username claim expression"
            name = as_string(_evaluate(m.expression, claims, where))
            if name is None:
                raise AuthenticationError(f"{where}: username claim expression must return "
                                          f"a string")
            if not name:
                raise AuthenticationError("oidc: empty username via CEL expression is not "
                                          "allowed")
            return name
        try:
            name = claim_string(claims, m.claim)
        except ValueError as exc:
            raise AuthenticationError(f"oidc: parse username claims {json.dumps(m.claim)}: "
                                      f"{exc}") from None
        if m.claim == "email" and "email_verified" in claims:
            # OpenID Connect Core, standard claims: an address not verified is not the user's
            verified = claims["email_verified"]
            if verified is not None and not isinstance(verified, bool):
                raise AuthenticationError(f"oidc: parse 'email_verified' claim: "
                                          f"{_unmarshal(verified, 'bool')}")
            if not verified:
                raise AuthenticationError("oidc: email not verified")
        return m.prefix + name

    def _groups(self, claims: dict) -> list[str]:
        m = self.groups
        if m.claim:
            if m.claim not in claims:
                return []
            try:
                groups = string_or_array(claims[m.claim])
            except ValueError as exc:
                raise AuthenticationError(f"oidc: parse groups claim {json.dumps(m.claim)}: "
                                          f"{exc}") from None
            return [m.prefix + g for g in groups]
        if m.expression is None:
            return []
        where = "oidc: error evaluating group claim expression"
        try:
            return as_string_list(_evaluate(m.expression, claims, where))
        except EvaluationError as exc:
            raise AuthenticationError(f"{where}: {exc}") from None

    def _uid(self, claims: dict) -> str:
        m = self.uid
        if m.claim:
            try:
                return claim_string(claims, m.claim)
            except ValueError as exc:
                raise AuthenticationError(f"oidc: parse uid claim {json.dumps(m.claim)}: "
                                          f"{exc}") from None
        if m.expression is None:
            return ""
        where = "oidc: error evaluating uid claim expression"
        uid = as_string(_evaluate(m.expression, claims, where))
        if uid is None:
            raise AuthenticationError(f"{where}: uid claim expression must return a string")
        return uid

    def _extra(self, claims: dict) -> dict:
        extra = {}
        jti = claims.get("jti")
        if isinstance(jti, str) and jti:
            extra[CREDENTIAL_ID_KEY] = ["JTI=" + jti]
        for key, expression in self.extra:
            try:
                values = as_string_list(expression.evaluate(claims))
            except EvaluationError as exc:
                text = str(exc)
                if not text.startswith("expression '"):   # a result of the wrong type
                    text = (f"oidc: error evaluating extra claim expression: "
                            f"{expression.text}: {text}")
                raise AuthenticationError(text) from None
            if values:
                extra[key] = values
        return extra

    def _required(self, claims: dict) -> None:
        for claim, value in self.required_claims:
            if claim not in claims:
                raise AuthenticationError(f"oidc: required claim {claim} not present in ID "
                                          f"token")
            try:
                got = claim_string(claims, claim)
            except ValueError as exc:
                raise AuthenticationError(f"oidc: parse claim {claim}: {exc}") from None
            if got != value:
                raise AuthenticationError(f"oidc: required claim {claim} value does not "
                                          f"match. Got = {got}, want = {value}")


def _evaluate(expression, value, where: str):
    try:
        return expression.evaluate(value)
    except EvaluationError as exc:
        raise AuthenticationError(f"{where}: {exc}") from None


def _check(rules, value, where: str) -> None:
    """Upstream ``checkValidationRulesEvaluation``: every rule a bool, and true."""
    results = [(expression, message, _evaluate(expression, value, where))
               for expression, message in rules]
    for expression, message, result in results:
        verdict = as_bool(result)
        if verdict is None:
            raise AuthenticationError(f"{where}: validation expression must return a boolean")
        if not verdict:
            raise AuthenticationError(f"{where}: validation expression '{expression.text}' "
                                      f"failed: {message}")
