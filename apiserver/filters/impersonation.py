"""Impersonation filter: ``Impersonate-User``, ``-Group``, ``-Uid`` and ``-Extra-<key>`` make
the request act as someone else, each part authorized with the ``impersonate`` verb for the
authenticated user first (upstream kubernetes/apiserver:pkg/endpoints/filters/
impersonation.go ``WithImpersonation``; ``kubectl --as``, ``--as-group``, ``--as-uid``).

What is authorized, per requested part: ``users`` (or ``serviceaccounts`` in the user's
namespace for ``system:serviceaccount:<ns>:<name>``) and ``groups`` in the core group,
``uids`` and ``userextras/<key>`` in authentication.k8s.io, each named by the value.  The
impersonated user gains ``system:authenticated`` unless it is anonymous or the groups named
``system:authenticated``/``system:unauthenticated`` (anonymous gains
``system:unauthenticated``); a service account impersonated without groups gets its fixed
groups.  The headers are removed before anything downstream runs.

Groups, uid or extras without a user are refused.  Upstream answers that with a 500; this
server answers 400 BadRequest with upstream's message, as the error is the client's.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import unquote

from apiserver.authentication.base import ANONYMOUS_USER, AUTHENTICATED, UNAUTHENTICATED
from apiserver.authentication.request import (header, header_values, headers_with_prefix,
                                              remove_headers)
from apiserver.authentication.user import UserInfo
from apiserver.authorization.base import AuthorizationAttributes, Decision
from apiserver.endpoints.responses import send_status
from apiserver.filters.authorization import forbidden_message
from apiserver.runtime.errors import BadRequest, Forbidden

USER, GROUP, UID, EXTRA = "Impersonate-User", "Impersonate-Group", "Impersonate-Uid", \
    "Impersonate-Extra-"
SA_PREFIX = "system:serviceaccount:"
AUTHN_GROUP = "authentication.k8s.io"


@dataclass(frozen=True)
class Request:
    """One thing asked for (upstream builds ``v1.ObjectReference``s)."""

    kind: str            # ServiceAccount, User, Group, UID, UserExtra
    name: str
    namespace: str = ""
    api_version: str = ""
    field_path: str = ""

    def go_text(self) -> str:
        """Go's ``%v`` of the ObjectReference upstream builds (its message lists them)."""
        return "{" + " ".join((self.kind, self.namespace, self.name, "", self.api_version,
                               "", self.field_path)) + "}"


def requests_of(scope) -> list[Request]:
    out = []
    user = header(scope, USER) or ""
    if user:
        ns, _, name = user[len(SA_PREFIX):].partition(":") if user.startswith(SA_PREFIX) \
            else ("", "", "")
        if ns and name and ":" not in name:
            out.append(Request("ServiceAccount", name, namespace=ns))
        else:
            out.append(Request("User", user))
    out += [Request("Group", g) for g in header_values(scope, GROUP)]
    uid = header(scope, UID) or ""
    if uid:
        out.append(Request("UID", uid, api_version="authentication.k8s.io/v1"))
    for suffix, value in headers_with_prefix(scope, EXTRA):
        out.append(Request("UserExtra", value, api_version="authentication.k8s.io/v1",
                           field_path=unquote(suffix.lower())))
    if out and not user:
        raise BadRequest("requested [" + " ".join(r.go_text() for r in out)
                         + "] without impersonating a user")
    return out


def attributes(user, request: Request) -> AuthorizationAttributes:
    resource, group, subresource = {
        "ServiceAccount": ("serviceaccounts", "", ""), "User": ("users", "", ""),
        "Group": ("groups", "", ""), "UID": ("uids", AUTHN_GROUP, ""),
        "UserExtra": ("userextras", AUTHN_GROUP, request.field_path)}[request.kind]
    return AuthorizationAttributes(
        user=user, verb="impersonate", is_resource_request=True, namespace=request.namespace,
        api_group=group, resource=resource, subresource=subresource, name=request.name)


def impersonated(requests: list[Request]) -> UserInfo:
    name, uid, groups, extra = "", "", [], {}
    groups_given = any(r.kind == "Group" for r in requests)
    for r in requests:
        if r.kind == "ServiceAccount":
            name = f"{SA_PREFIX}{r.namespace}:{r.name}"
            if not groups_given:
                groups = ["system:serviceaccounts", f"system:serviceaccounts:{r.namespace}"]
        elif r.kind == "User":
            name = r.name
        elif r.kind == "Group":
            groups.append(r.name)
        elif r.kind == "UID":
            uid = r.name
        else:
            extra.setdefault(r.field_path, []).append(r.name)
    if name != ANONYMOUS_USER:
        if AUTHENTICATED not in groups and UNAUTHENTICATED not in groups:
            groups.append(AUTHENTICATED)
    elif UNAUTHENTICATED not in groups:
        groups.append(UNAUTHENTICATED)
    return UserInfo(name=name, uid=uid, groups=tuple(groups), extra=extra)


class ImpersonationFilter:
    def __init__(self, app, authorizer, executor=None):
        self.app = app
        self.authorizer = authorizer
        self.executor = executor

    def refusal(self, actor, requests: list[Request]) -> Forbidden | None:
        """The 403 for the first part ``actor`` may not impersonate, or None."""
        for request in requests:
            attrs = attributes(actor, request)
            decision, reason = self.authorizer.authorize(attrs)
            if decision is not Decision.ALLOW:
                details = {"name": request.name, "kind": attrs.resource}
                if attrs.api_group:
                    details = {"name": request.name, "group": attrs.api_group,
                               "kind": attrs.resource}
                return Forbidden(forbidden_message(actor, attrs, reason), details=details)
        return None

    # A plain function returning the next app's coroutine (a tail call), as the other filters.
    def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return self.app(scope, receive, send)
        try:
            requests = requests_of(scope)
        except BadRequest as err:
            return send_status(send, err, scope)
        if not requests:
            return self.app(scope, receive, send)
        actor = scope["k8s.user"]
        if self.executor is not None and any(
                self.authorizer.needs_io(attributes(actor, r)) for r in requests):
            return self._in_thread(actor, requests, scope, receive, send)
        return self._continue(self.refusal(actor, requests), actor, requests, scope, receive,
                              send)

    async def _in_thread(self, actor, requests, scope, receive, send):
        loop = asyncio.get_running_loop()
        refusal = await loop.run_in_executor(self.executor, self.refusal, actor, requests)
        return await self._continue(refusal, actor, requests, scope, receive, send)

    def _continue(self, refusal, actor, requests, scope, receive, send):
        if refusal is not None:
            return send_status(send, refusal, scope)
        scope["k8s.user"] = impersonated(requests)
        scope["k8s.impersonated_by"] = actor
        remove_headers(scope, names=(USER, GROUP, UID), prefixes=(EXTRA,))
        return self.app(scope, receive, send)
