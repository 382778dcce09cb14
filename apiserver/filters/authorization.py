"""Authorization filter: may this user do RequestInfo's verb?  Uses only the URL and the
user, never the body (upstream ``pkg/endpoints/filters/authorization.go``)."""
from __future__ import annotations

import asyncio

from apiserver.authorization.base import AuthorizationAttributes, Decision
from apiserver.runtime.errors import Forbidden
from apiserver.endpoints.responses import send_status


def forbidden_message(user, attrs: AuthorizationAttributes, reason: str) -> str:
    """Upstream's wording: ``forbiddenMessage`` names the (sub)resource the user may not
    act on; ``apierrors.NewForbidden`` puts the group-qualified resource and the object's
    name in front (kubernetes/apiserver:pkg/endpoints/handlers/responsewriters/errors.go,
    kubernetes/apimachinery:pkg/api/errors/errors.go)."""
    who = f'User "{user.name}"'
    if not attrs.is_resource_request:
        return f'forbidden: {who} cannot {attrs.verb} path "{attrs.path}"' + \
            (f": {reason}" if reason else "")
    res = attrs.resource + (f"/{attrs.subresource}" if attrs.subresource else "")
    detail = f'{who} cannot {attrs.verb} resource "{res}" in API group "{attrs.api_group}"'
    detail += f' in the namespace "{attrs.namespace}"' if attrs.namespace else " at the cluster scope"
    if reason:
        detail += f": {reason}"
    qualified = attrs.resource + (f".{attrs.api_group}" if attrs.api_group else "")
    subject = f'{qualified} "{attrs.name}"' if attrs.name else qualified
    return f"{subject} is forbidden: {detail}"


class AuthorizationFilter:
    def __init__(self, app, authorizer, executor=None):
        self.app = app
        self.authorizer = authorizer
        self.executor = executor

    # A plain function returning the next app's coroutine (a tail call): a watch that
    # stays open for an hour then holds no suspended frame of this filter.
    def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return self.app(scope, receive, send)
        info = scope["k8s.request_info"]
        attrs = AuthorizationAttributes(
            user=scope["k8s.user"], verb=info.verb, is_resource_request=info.is_resource_request,
            path=scope["path"], namespace=info.namespace, api_group=info.api_group,
            api_version=info.api_version, resource=info.resource,
            subresource=info.subresource, name=info.name,
            field_selector=info.q("fieldSelector", "") or "" if info.is_resource_request else "")
        if self.executor is not None and self.authorizer.needs_io(attrs):
            return self._in_thread(attrs, scope, receive, send)
        return self._continue(self.authorizer.authorize(attrs), attrs, scope, receive, send)

    async def _in_thread(self, attrs, scope, receive, send):
        loop = asyncio.get_running_loop()
        verdict = await loop.run_in_executor(self.executor, self.authorizer.authorize, attrs)
        return await self._continue(verdict, attrs, scope, receive, send)

    def _continue(self, verdict, attrs, scope, receive, send):
        decision, reason = verdict
        if decision is not Decision.ALLOW:
            details = {"name": attrs.name} if attrs.name else {}
            if attrs.api_group:
                details["group"] = attrs.api_group
            details["kind"] = attrs.resource
            err = Forbidden(forbidden_message(attrs.user, attrs, reason),
                            details=details if attrs.is_resource_request else {})
            return send_status(send, err, scope)
        return self.app(scope, receive, send)
