"""The ABAC authorization mode: a policy file of one JSON ``Policy`` per line.

Upstream: kubernetes/kubernetes:pkg/auth/authorizer/abac/abac.go (loading, matching,
``RulesFor``) with the version conversions of pkg/apis/abac/v0/conversion.go and
pkg/apis/abac/v1beta1/conversion.go.

* ``--authorization-policy-file``: one object per line; blank lines and lines starting with
  ``#`` (after leading blanks) are skipped.  A line that cannot be read stops the load with
  an error naming the file, the line number and the line.
* ``abac.authorization.kubernetes.io/v1beta1`` ``Policy``: ``spec{user, group, readonly,
  apiGroup, namespace, resource, nonResourcePath}``.  ``*`` matches anything; an empty
  field matches only the empty value (a cluster-scoped request has namespace "", a core
  resource apiGroup "").  ``user: "*"`` or ``group: "*"`` means every *authenticated*
  subject (group ``system:authenticated``): anonymous requests need a rule naming
  ``system:unauthenticated``.
* Unversioned (v0) lines (no apiVersion and kind, top-level ``user``/``group``/
  ``readonly``/``resource``/``namespace``): no user and no group, or ``*``, means every
  authenticated subject; no namespace means every namespace; no resource every resource;
  every API group; neither namespace nor resource also allows every non-resource path.
* ``readonly`` limits a policy to get, list and watch; there is no other verb matching.
* ``nonResourcePath`` matches exactly, ``*`` everything, and ``/foo/*`` every path starting
  with ``/foo/``.
* A matching policy allows; none is NoOpinion with the reason ``No policy matched.``.

Pure: no Django, no storage; the file is read once, when the mode is built.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from apiserver.authorization.base import Authorizer, Decision

GROUP = "abac.authorization.kubernetes.io"
V1BETA1 = f"{GROUP}/v1beta1"
V0 = f"{GROUP}/v0"
ALL_AUTHENTICATED = "system:authenticated"
READ_VERBS = ("get", "list", "watch")
NO_MATCH = "No policy matched."

# (wire name, attribute, type) of a v1beta1 spec and of a v0 policy's top level
_SPEC_FIELDS = (("user", "user", str), ("group", "group", str), ("readonly", "readonly", bool),
                ("apiGroup", "api_group", str), ("resource", "resource", str),
                ("namespace", "namespace", str), ("nonResourcePath", "non_resource_path", str))
_V0_FIELDS = (("user", str), ("group", str), ("readonly", bool), ("resource", str),
              ("namespace", str))
_GO_TYPES = {str: "string", bool: "bool"}


@dataclass(frozen=True)
class Policy:
    """One policy after conversion to the internal form (upstream ``abac.PolicySpec``)."""

    user: str = ""
    group: str = ""
    readonly: bool = False
    api_group: str = ""
    resource: str = ""
    namespace: str = ""
    non_resource_path: str = ""


class PolicyLoadError(ValueError):
    """Upstream ``policyLoadError``: names the file and, for a bad line, its number and text."""

    def __init__(self, path: str, line: int, data: str, err: str):
        if line >= 0:
            text = f"error reading policy file {path}, line {line}: {data}: {err}"
        else:
            text = f"error reading policy file {path}: {err}"
        super().__init__(text)
        self.path, self.line = path, line


def _json_kind(value) -> str:
    """Go's name for a JSON value's type in an unmarshal error."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if value is None:
        return "null"
    return {str: "string", list: "array", dict: "object"}[type(value)]


def _field(obj: dict, key: str, kind: type, where: str):
    """``obj[key]`` checked against its Go type (a JSON null reads as the zero value)."""
    value = obj.get(key)
    if value is None:
        return kind()
    if type(value) is not kind:
        raise ValueError(f"json: cannot unmarshal {_json_kind(value)} into Go struct field "
                         f"{where}.{key} of type {_GO_TYPES[kind]}")
    return value


def _from_v1beta1(obj: dict) -> Policy:
    spec = obj.get("spec")
    if spec is None:
        spec = {}
    if not isinstance(spec, dict):
        raise ValueError(f"json: cannot unmarshal {_json_kind(spec)} into Go struct field "
                         "Policy.spec of type v1beta1.PolicySpec")
    values = {attr: _field(spec, key, kind, "Policy.spec") for key, attr, kind in _SPEC_FIELDS}
    if values["user"] == "*" or values["group"] == "*":
        values["user"], values["group"] = "", ALL_AUTHENTICATED
    return Policy(**values)


def _from_v0(obj: dict) -> Policy:
    v = {key: _field(obj, key, kind, "Policy") for key, kind in _V0_FIELDS}
    group = v["group"]
    user = v["user"]
    if not user and not group:
        group = ALL_AUTHENTICATED
    if user == "*" or v["group"] == "*":
        user, group = "", ALL_AUTHENTICATED
    return Policy(user=user, group=group, readonly=v["readonly"],
                  namespace=v["namespace"] or "*", resource=v["resource"] or "*",
                  api_group="*",
                  non_resource_path="*" if not v["namespace"] and not v["resource"] else "")


def parse_line(text: str) -> Policy:
    """One non-blank, non-comment line as a Policy; raises ValueError saying why not."""
    obj = json.loads(text)
    if not isinstance(obj, dict):
        raise ValueError(f"json: cannot unmarshal {_json_kind(obj)} into Go value of type "
                         "struct")
    api_version, kind = obj.get("apiVersion") or "", obj.get("kind") or ""
    if not isinstance(api_version, str) or not isinstance(kind, str):
        raise ValueError("json: cannot unmarshal into Go struct field TypeMeta of type string")
    if kind in ("Policy", ""):
        if api_version in ("", V0):
            return _from_v0(obj)                # unversioned lines are the v0 format
        if api_version == V1BETA1:
            # a v1beta1 line without its kind is still read as v1beta1: reading its spec
            # as a v0 policy would make it match every authenticated user
            return _from_v1beta1(obj)
    raise ValueError(f'no kind "{kind}" is registered for version "{api_version}"')


def parse_policies(lines, path: str = "") -> list[Policy]:
    """Every policy of ``lines`` (the file's lines, in order); the first bad line raises
    :class:`PolicyLoadError` with its 1-based number."""
    policies = []
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r\n")
        trimmed = line.strip()
        if not trimmed or trimmed.startswith("#"):
            continue
        try:
            policies.append(parse_line(line))
        except ValueError as exc:   # json.JSONDecodeError is a ValueError too
            raise PolicyLoadError(path, number, line, str(exc)) from None
    return policies


def load_file(path: str) -> list[Policy]:
    """The policies of ``--authorization-policy-file``."""
    try:
        with open(path, encoding="utf-8") as f:
            return parse_policies(f, path)
    except OSError as exc:
        raise PolicyLoadError(path, -1, "", f"open {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise PolicyLoadError(path, -1, "", str(exc)) from None


# ---------------------------------------------------------------- matching

def subject_matches(p: Policy, user) -> bool:
    """The user and group of ``p`` (each checked only when set) name ``user``; a policy
    setting neither matches nobody."""
    if user is None:
        return False
    matched = False
    if p.user:
        if p.user != "*" and p.user != user.name:
            return False
        matched = True
    if p.group:
        if p.group != "*" and p.group not in tuple(getattr(user, "groups", ()) or ()):
            return False
        matched = True
    return matched


def verb_matches(p: Policy, attrs) -> bool:
    """Every policy allows reads; a readonly one nothing else."""
    return attrs.verb in READ_VERBS or not p.readonly


def resource_matches(p: Policy, attrs) -> bool:
    return attrs.is_resource_request \
        and p.namespace in ("*", attrs.namespace) \
        and p.resource in ("*", attrs.resource) \
        and p.api_group in ("*", attrs.api_group)


def non_resource_matches(p: Policy, attrs) -> bool:
    if attrs.is_resource_request or not p.non_resource_path:
        return False
    path = p.non_resource_path
    if path == "*" or path == attrs.path:
        return True
    return path.endswith("*") and attrs.path.startswith(path.rstrip("*"))


def matches(p: Policy, attrs) -> bool:
    return subject_matches(p, attrs.user) and verb_matches(p, attrs) and \
        (resource_matches(p, attrs) or non_resource_matches(p, attrs))


class ABACAuthorizer(Authorizer):
    """Allow when any policy matches, else NoOpinion (never Deny)."""

    name = "ABAC"

    def __init__(self, policies):
        self.policies = tuple(policies)

    @classmethod
    def from_file(cls, path: str) -> "ABACAuthorizer":
        if not path:
            raise ValueError("authorization-mode ABAC's authorization policy file not passed")
        return cls(load_file(path))

    def authorize(self, attrs):
        if any(matches(p, attrs) for p in self.policies):
            return Decision.ALLOW, ""
        return Decision.NO_OPINION, NO_MATCH

    def rules_for(self, user, namespace):
        """The policies naming ``user`` in ``namespace`` (or ``*``), as rules: readonly ones
        with get/list/watch, the others with ``*``; complete."""
        resource, non_resource = [], []
        for p in self.policies:
            if not subject_matches(p, user) or p.namespace not in ("*", namespace):
                continue
            verbs = list(READ_VERBS) if p.readonly else ["*"]
            if p.resource:
                resource.append({"verbs": list(verbs), "apiGroups": [p.api_group],
                                 "resources": [p.resource]})
            if p.non_resource_path:
                non_resource.append({"verbs": list(verbs),
                                     "nonResourceURLs": [p.non_resource_path]})
        return resource, non_resource, False
