"""The CEL ``authorizer`` library (upstream k8s.io/apiserver ``pkg/cel/library/authz.go``).

Admission expressions (ValidatingAdmissionPolicy validations, variables, audit annotations
and matchConditions; webhook matchConditions) may ask the server's authorizer what the
request's user may do::

    authorizer.group('apps').resource('deployments').namespace('ns').name('n')
              .subresource('scale').check('update').allowed()
    authorizer.path('/healthz').check('get').reason()
    authorizer.serviceAccount('ns', 'sa').group('').resource('pods').check('list')
    authorizer.requestResource.check('delete').errored()

A ``check`` is one ``authorize`` call on the configured union with upstream's attributes
(resource checks use apiVersion ``*``); its Decision answers ``allowed()`` (ALLOW only, a
missing opinion is not allowed), ``reason()``, ``errored()`` and ``error()`` (the text of an
authorizer that raised).  ``fieldSelector``/``labelSelector`` are kept on the check and
passed as the field selector our attributes carry (the label selector has no place in them).

cel-python dispatches ``x.f(y)`` to the function ``f(x, y)``: every function here refuses a
receiver of the wrong type with cel-go's "no such overload".  The functions are only known
to programs compiled with ``authz=True`` (apiserver.cel.compile_expression), as upstream
declares the library only in the admission environments.

May import: celpy, apiserver.authorization, apiserver.authentication, apiserver.runtime.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from celpy import celtypes

from apiserver.authentication.user import UserInfo
from apiserver.authorization.base import AuthorizationAttributes, Decision
from apiserver.runtime.validation import is_dns1123_label, is_dns1123_subdomain

SA_PREFIX = "system:serviceaccount:"
SA_GROUPS = "system:serviceaccounts"


class AuthzValue:
    """Marker of the library's values: the evaluator passes them through unconverted."""

    cel_type = ""


class Authorizer(AuthzValue, celtypes.MapType):
    """``kubernetes.authorization.Authorizer``: a user and the authorizer to ask.

    A map to the evaluator, so that ``authorizer.requestResource`` is a field selection
    (cel-python selects fields of maps and messages only); its one entry is that check."""

    cel_type = "kubernetes.authorization.Authorizer"

    def __init__(self, user, authorizer, request_resource=None):
        super().__init__()
        self.user, self.authorizer = user, authorizer
        if request_resource is not None:
            self[celtypes.StringType("requestResource")] = ResourceCheck(
                self, *request_resource)

    __hash__ = object.__hash__


@dataclass(frozen=True)
class PathCheck(AuthzValue):
    authz: Authorizer
    path: str
    cel_type = "kubernetes.authorization.PathCheck"


@dataclass(frozen=True)
class GroupCheck(AuthzValue):
    authz: Authorizer
    group: str
    cel_type = "kubernetes.authorization.GroupCheck"


@dataclass(frozen=True)
class ResourceCheck(AuthzValue):
    authz: Authorizer
    group: str
    resource: str
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    field_selector: str = ""
    label_selector: str = ""
    cel_type = "kubernetes.authorization.ResourceCheck"


@dataclass(frozen=True)
class AuthzDecision(AuthzValue):
    decision: Decision
    reason: str
    error: str | None
    cel_type = "kubernetes.authorization.Decision"


def _overload(name: str, value) -> TypeError:
    kind = getattr(value, "cel_type", "") or type(value).__name__
    return TypeError(f"found no matching overload for '{name}' applied to '{kind}'")


def _receiver(name: str, value, cls, arg=None, arg_type=str):
    if not isinstance(value, cls) or (arg is not None and not isinstance(arg, arg_type)):
        raise _overload(name, value)
    return value


def _ask(authz: Authorizer, attrs: AuthorizationAttributes) -> AuthzDecision:
    try:
        decision, reason = authz.authorizer.authorize(attrs)
    except Exception as exc:     # upstream keeps the authorizer's error on the Decision
        return AuthzDecision(Decision.NO_OPINION, "", str(exc) or type(exc).__name__)
    return AuthzDecision(decision, reason or "", None)


def _path(authz, path):
    a = _receiver("path", authz, Authorizer, path)
    if not str(path).strip():
        raise ValueError("path must not be empty")
    return PathCheck(a, str(path))


def _group(authz, group):
    return GroupCheck(_receiver("group", authz, Authorizer, group), str(group))


def _service_account(authz, namespace, name):
    a = _receiver("serviceAccount", authz, Authorizer)
    if not isinstance(namespace, str) or not isinstance(name, str):
        raise _overload("serviceAccount", authz)
    if is_dns1123_subdomain(str(name)):
        raise ValueError("Invalid service account name")
    if is_dns1123_label(str(namespace)):
        raise ValueError("Invalid service account namespace")
    user = UserInfo(f"{SA_PREFIX}{namespace}:{name}",
                    groups=(SA_GROUPS, f"{SA_GROUPS}:{namespace}"))
    return Authorizer(user, a.authorizer)


def _resource(group_check, resource):
    g = _receiver("resource", group_check, GroupCheck, resource)
    if not str(resource).strip():
        raise ValueError("resource must not be empty")
    return ResourceCheck(g.authz, g.group, str(resource))


def _setter(name: str, field: str):
    def fn(check, value):
        return replace(_receiver(name, check, ResourceCheck, value), **{field: str(value)})
    return fn


def _check(check, verb):
    if isinstance(check, PathCheck) and isinstance(verb, str):
        return _ask(check.authz, AuthorizationAttributes(
            user=check.authz.user, verb=str(verb), is_resource_request=False, path=check.path))
    c = _receiver("check", check, ResourceCheck, verb)
    return _ask(c.authz, AuthorizationAttributes(
        user=c.authz.user, verb=str(verb), is_resource_request=True, namespace=c.namespace,
        api_group=c.group, api_version="*", resource=c.resource, subresource=c.subresource,
        name=c.name, field_selector=c.field_selector))


def _decision(name: str):
    def fn(value):
        return _receiver(name, value, AuthzDecision)
    return fn


FUNCTIONS = {
    "path": _path, "group": _group, "serviceAccount": _service_account,
    "resource": _resource,
    "subresource": _setter("subresource", "subresource"),
    "namespace": _setter("namespace", "namespace"),
    "name": _setter("name", "name"),
    "fieldSelector": _setter("fieldSelector", "field_selector"),
    "labelSelector": _setter("labelSelector", "label_selector"),
    "check": _check,
    "allowed": lambda d: celtypes.BoolType(_decision("allowed")(d).decision is Decision.ALLOW),
    "reason": lambda d: celtypes.StringType(_decision("reason")(d).reason),
    "errored": lambda d: celtypes.BoolType(_decision("errored")(d).error is not None),
    "error": lambda d: celtypes.StringType(_decision("error")(d).error or ""),
}


def variables(user, authorizer, resource=None) -> dict:
    """The activation entry for one request: ``authorizer``, with
    ``authorizer.requestResource`` when the request names a resource (upstream
    NewResourceAuthorizerVal: the request's group, resource, subresource, namespace and
    name).  ``resource`` is ``(group, resource, subresource, namespace, name)``.  Empty
    without an authorizer."""
    if authorizer is None:
        return {}
    if resource is not None:
        resource = tuple(str(part or "") for part in resource)
    return {"authorizer": Authorizer(user, authorizer, resource)}
