"""``--authentication-config``: an apiserver.config.k8s.io AuthenticationConfiguration
(kubernetes/apiserver:pkg/apis/apiserver/types.go; validation in pkg/apis/apiserver/
validation/validation.go), the structured form of the ``--oidc-*`` flags (the two cannot be
mixed: ``apiserver.options`` refuses it).

* ``jwt[]``: issuers, each with ``issuer{url, audiences, certificateAuthority}``,
  ``claimValidationRules`` (``claim``+``requiredValue`` or a CEL ``expression``+``message``),
  ``claimMappings`` — ``username``/``groups``/``uid`` as ``claim``+``prefix`` or a CEL
  ``expression``, ``extra[]{key, valueExpression}`` — and ``userValidationRules`` (CEL over
  ``user``); a token goes to the issuer its ``iss`` names;
* ``anonymous{enabled, conditions[{path}]}``: whether anonymous requests are allowed and on
  which paths.

Configuration errors stop the start with the field's path.

May import: apiserver.authentication.
"""
from __future__ import annotations

import ssl

import yaml

from apiserver.authentication.base import AuthenticationError, FirstAnswer, TokenAuthenticator
from apiserver.authentication.claim_cel import Expression, as_string, as_strings, check
from apiserver.authentication.jwt_issuer import (Keys, OIDCAuthenticator, from_flags,
                                                 ssl_context_for)
from apiserver.authentication.user import UserInfo

VERSIONS = ("apiserver.config.k8s.io/v1alpha1", "apiserver.config.k8s.io/v1beta1",
            "apiserver.config.k8s.io/v1")


def load(path: str) -> dict:
    """The AuthenticationConfiguration in ``path`` (YAML or JSON); ValueError naming it."""
    try:
        with open(path, encoding="utf-8") as fh:
            doc = yaml.safe_load(fh)
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"--authentication-config {path!r}: {exc}") from None
    if not isinstance(doc, dict) or doc.get("kind") != "AuthenticationConfiguration" \
            or doc.get("apiVersion") not in VERSIONS:
        raise ValueError(f"--authentication-config {path!r}: not an AuthenticationConfiguration "
                         f"of {', '.join(VERSIONS)}")
    return doc


class Mapping:
    """A PrefixedClaimOrExpression / ClaimOrExpression: ``claim`` (+ ``prefix``) or a CEL
    ``expression`` over ``claims``."""

    def __init__(self, spec, where: str, *, prefixed: bool, required: bool = False):
        spec = spec or {}
        self.where = where
        self.claim = spec.get("claim", "")
        self.prefix = spec.get("prefix")
        self.expression = Expression(spec["expression"], f"{where}.expression") \
            if spec.get("expression") else None
        if self.claim and self.expression:
            raise ValueError(f"{where}: Invalid value: claim and expression cannot both be set")
        if required and not (self.claim or self.expression):
            raise ValueError(f"{where}: Required value: claim or expression is required")
        if prefixed and self.claim and self.prefix is None:
            raise ValueError(f"{where}.prefix: Required value: prefix is required when claim "
                             f"is set. It can be set to an empty string to disable prefixing")
        if self.expression and self.prefix:
            raise ValueError(f"{where}.prefix: Invalid value: may not be specified when "
                             f"expression is set")

    @property
    def set(self) -> bool:
        return bool(self.claim or self.expression)

    def strings(self, claims: dict, *, single: bool) -> list[str]:
        if self.expression is not None:
            value = self.expression.evaluate(claims=claims)
            return [as_string(value, self.where)] if single else as_strings(value, self.where)
        if self.claim not in claims:
            return []
        value = claims[self.claim]
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values) \
                or (single and len(values) != 1):
            raise AuthenticationError(f"oidc: parse claim {self.claim!r}: not a string")
        return [(self.prefix or "") + v for v in values]


class ConfiguredJWT(OIDCAuthenticator):
    """One ``jwt[]`` issuer: OIDCAuthenticator's token checks, the config's mappings."""

    def __init__(self, entry: dict, where: str):
        issuer = entry.get("issuer") or {}
        url = issuer.get("url") or ""
        if not url.startswith("https://"):
            raise ValueError(f"{where}.issuer.url: Invalid value: {url!r}: URL scheme must be https")
        audiences = [a for a in issuer.get("audiences") or () if isinstance(a, str) and a]
        if not audiences:
            raise ValueError(f"{where}.issuer.audiences: Required value: at least one "
                             f"issuer.audiences is required")
        try:
            ctx = ssl_context_for(ca_data=issuer.get("certificateAuthority") or "")
        except ssl.SSLError as exc:
            raise ValueError(f"{where}.issuer.certificateAuthority: {exc}") from None
        super().__init__(url, audiences[0], Keys(url, ctx))
        self.audiences = tuple(audiences)
        mappings = entry.get("claimMappings") or {}
        at = f"{where}.claimMappings"
        self.username = Mapping(mappings.get("username"), f"{at}.username", prefixed=True,
                                required=True)
        self.groups = Mapping(mappings.get("groups"), f"{at}.groups", prefixed=True)
        self.uid = Mapping(mappings.get("uid"), f"{at}.uid", prefixed=False)
        self.extra = [(e.get("key", ""), Expression(e.get("valueExpression", ""),
                                                   f"{at}.extra[{i}].valueExpression"))
                      for i, e in enumerate(mappings.get("extra") or ())]
        self.claim_rules, self.cel_claim_rules = [], []
        for i, rule in enumerate(entry.get("claimValidationRules") or ()):
            if rule.get("expression"):
                self.cel_claim_rules.append((Expression(
                    rule["expression"], f"{where}.claimValidationRules[{i}].expression"),
                    rule.get("message", "")))
            else:
                self.claim_rules.append((rule.get("claim", ""), rule.get("requiredValue", "")))
        self.required_claims = tuple(self.claim_rules)
        self.user_rules = [(Expression(r.get("expression", ""),
                                       f"{where}.userValidationRules[{i}].expression"),
                            r.get("message", ""))
                           for i, r in enumerate(entry.get("userValidationRules") or ())]

    def user(self, claims: dict) -> UserInfo:
        for key, value in self.required_claims:
            if claims.get(key) != value:
                raise AuthenticationError(f"oidc: required claim {key} value does not match")
        check(self.cel_claim_rules, "claim validation rule failed: ", claims=claims)
        names = self.username.strings(claims, single=True)
        if not names or not names[0]:
            raise AuthenticationError("oidc: claim mapping: username is required")
        if self.username.claim == "email" and "email_verified" in claims \
                and claims["email_verified"] is not True:
            raise AuthenticationError("oidc: email not verified")
        groups = tuple(self.groups.strings(claims, single=False)) if self.groups.set else ()
        uid = (self.uid.strings(claims, single=True) or [""])[0] if self.uid.set else ""
        extra = {key: as_strings(expr.evaluate(claims=claims), expr.where)
                 for key, expr in self.extra}
        user = UserInfo(name=names[0], uid=uid, groups=groups, extra=extra)
        check(self.user_rules, "user validation rule failed: ",
              user={"username": user.name, "uid": user.uid, "groups": list(user.groups),
                    "extra": user.extra})
        return user


def issuers(path: str) -> FirstAnswer | None:
    """The config's issuers: a token goes to the one whose ``iss`` it names."""
    doc = load(path)
    entries = doc.get("jwt") or []
    urls = [(e.get("issuer") or {}).get("url") for e in entries]
    for i, url in enumerate(urls):
        if url in urls[:i]:
            raise ValueError(f"--authentication-config {path!r}: jwt[{i}].issuer.url: "
                             f"Duplicate value: {url!r}")
    try:
        built = [ConfiguredJWT(e, f"jwt[{i}]") for i, e in enumerate(entries)]
    except ValueError as exc:
        raise ValueError(f"--authentication-config {path!r}: {exc}") from None
    return FirstAnswer(built, name="jwt") if built else None


def anonymous_paths(options) -> tuple | None:
    """The config's ``anonymous`` section: None (not set), () (disabled), or the paths of its
    conditions (None again when it has none: anonymous everywhere)."""
    if not options.authentication_config:
        return None
    section = load(options.authentication_config).get("anonymous")
    if section is None:
        return None
    if not section.get("enabled"):
        return ()
    return tuple(c.get("path", "") for c in section.get("conditions") or ()) or None


def from_options(deps) -> TokenAuthenticator | None:
    """``--authentication-config``'s issuers, else the ``--oidc-*`` flags' one."""
    o = deps.options
    if o.authentication_config:
        return issuers(o.authentication_config)
    return from_flags(o)
