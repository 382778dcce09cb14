"""Request metrics: ``apiserver_request_total`` counted per verb, group, version, resource,
subresource, scope and response code, and served at ``/metrics`` in the Prometheus text
format (upstream k8s.io/apiserver pkg/endpoints/metrics/metrics.go ``MonitorRequest``, with
its ``CleanVerb`` and ``CleanScope`` labels, and the legacyregistry handler at /metrics).

The filter sits just inside authorization, where upstream's instrumented handlers are: it
counts what reached the handlers (401s and 403s are not counted, as upstream's request
counter does not see them), and ``/metrics`` needs ``get`` on that path (the
system:monitoring role, or cluster-admin).  A request is counted when its response starts,
so an open watch shows at once.  Counters are this process's (each server process of
``--server-processes`` has its own, as each kube-apiserver instance does).  Websocket
requests are not counted.
"""
from __future__ import annotations

from collections import Counter

NAME = "apiserver_request_total"
HELP = ("Counter of apiserver requests broken out for each verb, dry run value, group, "
        "version, resource, scope, component, and HTTP response code.")
CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"
_CONNECT = {"exec", "attach", "portforward", "proxy"}


def reported_verb(info, method: str, content_type: str) -> str:
    """Upstream ``CleanVerb``: LIST and WATCH for collection reads, APPLY for server-side
    apply, CONNECT for streaming subresources, else the HTTP method."""
    verb = info.verb if info is not None else ""
    if verb == "list":
        return "LIST"
    if verb == "watch":
        return "WATCH"
    if method == "PATCH" and content_type.startswith("application/apply-patch"):
        return "APPLY"
    if info is not None and info.subresource in _CONNECT:
        return "CONNECT"
    return method


def reported_scope(info) -> str:
    """Upstream ``CleanScope``."""
    if info is None or not info.is_resource_request:
        return ""
    if info.url_name or info.verb == "create":
        return "resource"
    if info.namespace:
        return "namespace"
    return "cluster"


class RequestMetricsFilter:
    def __init__(self, app):
        self.app = app
        self.counts: Counter = Counter()

    def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return self.app(scope, receive, send)
        if scope["path"] == "/metrics" and scope["method"] in ("GET", "HEAD"):
            return self._expose(send)
        return self._counted(scope, receive, send)

    async def _counted(self, scope, receive, send):
        info = scope.get("k8s.request_info")
        ctype = ""
        for k, v in scope.get("headers") or ():
            if k == b"content-type":
                ctype = v.decode("latin-1").lower()
        dry_run = "All" if info is not None and info.q("dryRun") else ""
        base = (reported_verb(info, scope["method"], ctype), dry_run,
                info.api_group if info and info.is_resource_request else "",
                info.api_version if info and info.is_resource_request else "",
                info.resource if info else "", info.subresource if info else "",
                reported_scope(info))
        counted = False

        async def counting_send(message):
            nonlocal counted
            if not counted and message["type"] == "http.response.start":
                counted = True
                self.counts[base + (str(message["status"]),)] += 1
            await send(message)
        await self.app(scope, receive, counting_send)

    def text(self) -> bytes:
        lines = [f"# HELP {NAME} [STABLE] {HELP}", f"# TYPE {NAME} counter"]
        for key, n in sorted(self.counts.items()):
            verb, dry_run, group, version, resource, subresource, scope, code = key
            labels = (f'code="{code}",component="apiserver",dry_run="{dry_run}",'
                      f'group="{group}",resource="{resource}",scope="{scope}",'
                      f'subresource="{subresource}",verb="{verb}",version="{version}"')
            lines.append(f"{NAME}{{{labels}}} {n}")
        return ("\n".join(lines) + "\n").encode()

    async def _expose(self, send):
        body = self.text()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", CONTENT_TYPE),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
