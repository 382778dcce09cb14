"""Validating and compiling an AuthenticationConfiguration's JWT authenticators, with
upstream's field paths and messages (kubernetes/apiserver:pkg/apis/apiserver/validation/
validation.go ``ValidateAuthenticationConfiguration``, ``validateJWTAuthenticator``), as
kube-apiserver does for ``--authentication-config`` and for the ``--oidc-*`` flags alike.

The input is the decoded configuration of :mod:`.authn_config`; the output one
:class:`CompiledJWT` per ``jwt`` entry (issuer plus compiled claim mappings and rules), or
ValueError("invalid authentication configuration: …") listing every error, so a bad file
stops the server's start.

May import: apiserver.authentication, apiserver.runtime.
"""
from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass

from apiserver.authentication.oidc_cel import CompileError, Compiler
from apiserver.authentication.oidc_claims import ClaimMapper, Mapping
from apiserver.authentication.oidc_provider import ssl_context
from apiserver.authentication.oidc_token import IssuerSpec
from apiserver.runtime.errors import FieldError, duplicate, invalid, required
from apiserver.runtime.validation import GoText, is_dns1123_subdomain, regex_error

MAX_JWT = 64
MATCH_ANY = "MatchAny"
HTTP_PATH_FMT = r"[A-Za-z0-9/\-._~%!$&'()*+,;=:]+"
EMAIL_VERIFIED_RULE = ("claims.email_verified must be used in claimMappings.username.expression "
                       "or claimMappings.extra[*].valueExpression or claimValidationRules[*]"
                       ".expression when claims.email is used in claimMappings.username"
                       ".expression")


@dataclass(frozen=True)
class CompiledJWT:
    """One valid ``jwt`` entry."""

    issuer: IssuerSpec
    mapper: ClaimMapper


def aggregate(errors: list) -> str:
    """apimachinery's ``Aggregate.Error()``: one error as is, several in [] (deduplicated)."""
    texts = list(dict.fromkeys(e.error_text() if isinstance(e, FieldError) else str(e)
                               for e in errors))
    return texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"


def compile_config(config: dict, disallowed_issuers=()) -> list[CompiledJWT]:
    """The configuration's JWT authenticators; ValueError naming every problem."""
    compiled, errors = validate(config, disallowed_issuers)
    if errors:
        raise ValueError(f"invalid authentication configuration: {aggregate(errors)}")
    return compiled


def validate(config: dict, disallowed_issuers=()) -> tuple[list, list]:
    """(compiled authenticators, field errors) — upstream's checks in upstream's order."""
    entries = config["jwt"]
    if len(entries) > MAX_JWT:
        return [], [FieldError("FieldValueTooMany", "jwt", None,
                               f"{len(entries)}: must have at most {MAX_JWT} items",
                               has_value=False)]
    compiler = Compiler()
    errors, compiled, seen_urls, seen_discovery = [], [], set(), set()
    for i, entry in enumerate(entries):
        path = f"jwt[{i}]"
        result, errs = _jwt(compiler, entry, path, set(disallowed_issuers))
        errors += errs
        url, discovery = entry["issuer"]["url"], entry["issuer"]["discoveryURL"] or ""
        if url in seen_urls:
            errors.append(duplicate(f"{path}.issuer.url", url))
        seen_urls.add(url)
        if discovery:
            if discovery in seen_discovery:
                errors.append(duplicate(f"{path}.issuer.discoveryURL", discovery))
            seen_discovery.add(discovery)
        if result is not None:
            compiled.append(result)
    errors += validate_anonymous(config.get("anonymous"))
    return compiled, errors


def validate_anonymous(section) -> list:
    if section is None or section["enabled"] or not section["conditions"]:
        return []
    shown = ", ".join(f'apiserver.AnonymousAuthCondition{{Path:"{c["path"]}"}}'
                      for c in section["conditions"])
    return [invalid("anonymous.conditions", GoText(f"[]apiserver.AnonymousAuthCondition{{"
                                                   f"{shown}}}"),
                    "enabled should be set to true when conditions are defined")]


def _jwt(compiler, entry: dict, path: str, disallowed: set):
    errors, state = [], {"email": False, "email_verified": False}
    issuer = entry["issuer"]
    errors += _issuer(issuer, f"{path}.issuer", disallowed)
    required_claims, claim_rules = _claim_rules(compiler, state, entry["claimValidationRules"],
                                                f"{path}.claimValidationRules", errors)
    m = entry["claimMappings"]
    at = f"{path}.claimMappings"
    username = _prefixed(compiler, m["username"], f"{at}.username", True, errors)
    if username.expression is not None:
        state["email"] = username.expression.uses("claims", "email")
        state["email_verified"] |= username.expression.uses("claims", "email_verified")
    groups = _prefixed(compiler, m["groups"], f"{at}.groups", False, errors)
    uid = _uid(compiler, m["uid"], f"{at}.uid", errors)
    extra = _extra(compiler, state, m["extra"], f"{at}.extra", errors)
    if state["email"] and not state["email_verified"]:
        errors.append(invalid(f"{at}.username.expression", m["username"]["expression"],
                              EMAIL_VERIFIED_RULE))
    user_rules = _user_rules(compiler, entry["userValidationRules"],
                             f"{path}.userValidationRules", errors)
    if errors:
        return None, errors
    spec = IssuerSpec(url=issuer["url"], audiences=tuple(issuer["audiences"]),
                      discovery_url=issuer["discoveryURL"] or "",
                      certificate_authority=issuer["certificateAuthority"])
    mapper = ClaimMapper(username=username, groups=groups, uid=uid, extra=tuple(extra),
                         required_claims=tuple(required_claims),
                         claim_rules=tuple(claim_rules), user_rules=tuple(user_rules))
    return CompiledJWT(spec, mapper), []


def _issuer(issuer: dict, path: str, disallowed: set) -> list:
    errors = []
    url, discovery = issuer["url"], issuer["discoveryURL"] or ""
    errors += _url(url, f"{path}.url", disallowed) if url else [required(f"{path}.url")]
    if discovery:
        if url and url.rstrip("/") == discovery.rstrip("/"):
            errors.append(invalid(f"{path}.discoveryURL", discovery,
                                  "discoveryURL must be different from URL"))
        errors += _url(discovery, f"{path}.discoveryURL", set())
    audiences, policy = issuer["audiences"], issuer["audienceMatchPolicy"]
    if not audiences:
        errors.append(required(f"{path}.audiences",
                               f"at least one {path}.audiences is required"))
    else:
        seen = set()
        for i, audience in enumerate(audiences):
            if not audience:
                errors.append(required(f"{path}.audiences[{i}]"))
            if audience in seen:
                errors.append(duplicate(f"{path}.audiences[{i}]", audience))
            seen.add(audience)
        if len(audiences) > 1 and policy != MATCH_ANY:
            errors.append(invalid(f"{path}.audienceMatchPolicy", policy,
                                  "audienceMatchPolicy must be MatchAny for multiple audiences"))
        if len(audiences) == 1 and policy and policy != MATCH_ANY:
            errors.append(invalid(f"{path}.audienceMatchPolicy", policy,
                                  "audienceMatchPolicy must be empty or MatchAny for single "
                                  "audience"))
    if issuer["certificateAuthority"]:
        try:
            ssl_context(issuer["certificateAuthority"])
        except ValueError as exc:
            errors.append(invalid(f"{path}.certificateAuthority", "<omitted>", str(exc)))
    return errors


def _url(url: str, path: str, disallowed: set) -> list:
    errors = []
    if url in disallowed:
        errors.append(invalid(path, url, f"URL must not overlap with disallowed issuers: "
                                         f"[{' '.join(sorted(disallowed))}]"))
    try:
        u = urllib.parse.urlsplit(url)
    except ValueError as exc:
        return errors + [invalid(path, url, str(exc))]
    if u.scheme != "https":
        errors.append(invalid(path, url, "URL scheme must be https"))
    if "@" in u.netloc:
        errors.append(invalid(path, url, "URL must not contain a username or password"))
    if u.query:
        errors.append(invalid(path, url, "URL must not contain a query"))
    if u.fragment:
        errors.append(invalid(path, url, "URL must not contain a fragment"))
    return errors


def _compile(compile_fn, text: str, path: str, errors: list):
    try:
        return compile_fn(text)
    except CompileError as exc:
        errors.append(invalid(path, text, str(exc)))
        return None


def _claim_rules(compiler, state, rules, path: str, errors: list):
    required_claims, compiled, seen_claims, seen_expressions = [], [], set(), set()
    for i, rule in enumerate(rules):
        at = f"{path}[{i}]"
        claim, expression = rule["claim"], rule["expression"]
        if claim and expression:
            errors.append(invalid(at, claim, "claim and expression can't both be set"))
        elif not claim and not expression:
            errors.append(required(at, "claim or expression is required"))
        elif claim:
            if rule["message"]:
                errors.append(invalid(f"{at}.message", rule["message"],
                                      "may not be specified when claim is set"))
            if claim in seen_claims:
                errors.append(duplicate(f"{at}.claim", claim))
            seen_claims.add(claim)
            required_claims.append((claim, rule["requiredValue"]))
        else:
            if rule["requiredValue"]:
                errors.append(invalid(f"{at}.requiredValue", rule["requiredValue"],
                                      "may not be specified when expression is set"))
            if expression in seen_expressions:
                errors.append(duplicate(f"{at}.expression", expression))
                continue
            seen_expressions.add(expression)
            compiled_rule = _compile(compiler.claims, expression, f"{at}.expression", errors)
            if compiled_rule is not None:
                compiled.append((compiled_rule, rule["message"]))
                state["email_verified"] |= compiled_rule.uses("claims", "email_verified")
    return required_claims, compiled


def _prefixed(compiler, m: dict, path: str, needed: bool, errors: list) -> Mapping:
    claim, expression, prefix = m["claim"], m["expression"], m["prefix"]
    if claim and expression:
        errors.append(invalid(path, "", "claim and expression can't both be set"))
    elif not claim and not expression:
        if needed:
            errors.append(required(path, "claim or expression is required"))
    elif expression:
        if prefix is not None:
            errors.append(invalid(f"{path}.prefix", prefix,
                                  "may not be specified when expression is set"))
        return Mapping(expression=_compile(compiler.claims, expression, f"{path}.expression",
                                           errors))
    elif prefix is None:
        errors.append(required(f"{path}.prefix", "prefix is required when claim is set. It "
                                                 "can be set to an empty string to disable "
                                                 "prefixing"))
    return Mapping(claim=claim if not expression else "", prefix=prefix or "")


def _uid(compiler, m: dict, path: str, errors: list) -> Mapping:
    if m["claim"] and m["expression"]:
        errors.append(invalid(path, "", "claim and expression can't both be set"))
        return Mapping()
    if m["expression"]:
        return Mapping(expression=_compile(compiler.claims, m["expression"],
                                           f"{path}.expression", errors))
    return Mapping(claim=m["claim"])


def _domain_prefixed_path(key: str, path: str) -> list:
    """apimachinery's ``IsDomainPrefixedPath``."""
    if not key:
        return [required(path)]
    host, slash, rest = key.partition("/")
    if not slash or not host or not rest:
        return [invalid(path, key, 'must be a domain-prefixed path (such as "acme.io/foo")')]
    errors = [invalid(path, host, msg) for msg in is_dns1123_subdomain(host)]
    if not re.fullmatch(HTTP_PATH_FMT, rest):
        errors.append(invalid(path, rest, regex_error("Invalid path", HTTP_PATH_FMT)))
    return errors


def _reserved(key: str) -> bool:
    domain = key.split("/", 1)[0] if "/" in key else ""
    return any(domain == d or domain.endswith("." + d) for d in ("kubernetes.io", "k8s.io"))


def _extra(compiler, state, mappings, path: str, errors: list) -> list:
    compiled, seen = [], set()
    for i, mapping in enumerate(mappings):
        at, key = f"{path}[{i}]", mapping["key"]
        errors += _domain_prefixed_path(key, f"{at}.key")
        if key != key.lower():
            errors.append(invalid(f"{at}.key", key, "must be lowercase"))
        if _reserved(key):
            errors.append(invalid(f"{at}.key", key, "k8s.io, kubernetes.io and their "
                                                    "subdomains are reserved for Kubernetes use"))
        if key in seen:
            errors.append(duplicate(f"{at}.key", key))
            continue
        seen.add(key)
        if not mapping["valueExpression"]:
            errors.append(required(f"{at}.valueExpression"))
            continue
        expression = _compile(compiler.claims, mapping["valueExpression"],
                              f"{at}.valueExpression", errors)
        if expression is not None:
            compiled.append((key, expression))
            state["email_verified"] |= expression.uses("claims", "email_verified")
    return compiled


def _user_rules(compiler, rules, path: str, errors: list) -> list:
    compiled, seen = [], set()
    for i, rule in enumerate(rules):
        at = f"{path}[{i}].expression"
        if not rule["expression"]:
            errors.append(required(at))
            continue
        if rule["expression"] in seen:
            errors.append(duplicate(at, rule["expression"]))
            continue
        seen.add(rule["expression"])
        expression = _compile(compiler.user, rule["expression"], at, errors)
        if expression is not None:
            compiled.append((expression, rule["message"]))
    return compiled

