"""The metrics server's HTTP API: discovery and ``metrics.k8s.io/v1beta1`` nodes and pods
(upstream metrics-server pkg/api: install.go, node.go, pod.go), behind delegated
authentication and authorization (``workers.serving.delegated``).

Routes (GET only; ``watch`` is refused with 405 as upstream's storage has no watcher):

* ``/healthz``, ``/livez``, ``/readyz``; ``/apis``, ``/apis/metrics.k8s.io``,
  ``/apis/metrics.k8s.io/v1beta1`` (discovery);
* ``…/v1beta1/nodes[/NAME]``, ``…/v1beta1/pods`` and ``…/v1beta1/namespaces/NS/pods[/NAME]``,
  with ``labelSelector`` (and ``fieldSelector`` on ``metadata.name``/``metadata.namespace``).

Errors are ``Status`` objects with upstream's texts: ``podmetrics.metrics.k8s.io "ns/name"
not found``, the authorization filter's ``… is forbidden: User "u" cannot list resource
"pods" in API group "metrics.k8s.io" in the namespace "ns"``, ``Unauthorized``.
"""
from __future__ import annotations

import time
from urllib.parse import parse_qs

import orjson

from workers.scheduler.selectors import label_selector_matches
from workers.serving.delegated import Attributes, header_map, peer_der

from .selectors import SelectorError, parse_field_selector, parse_label_selector

GROUP, VERSION = "metrics.k8s.io", "v1beta1"
GV = f"{GROUP}/{VERSION}"
RESOURCES = {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": GV, "resources": [
    {"name": "nodes", "singularName": "", "namespaced": False, "kind": "NodeMetrics",
     "verbs": ["get", "list"]},
    {"name": "pods", "singularName": "", "namespaced": True, "kind": "PodMetrics",
     "verbs": ["get", "list"]}]}
GROUP_DOC = {"name": GROUP, "versions": [{"groupVersion": GV, "version": VERSION}],
             "preferredVersion": {"groupVersion": GV, "version": VERSION}}
KIND_OF = {"nodes": ("NodeMetrics", "nodemetrics"), "pods": ("PodMetrics", "podmetrics")}


def cpu_quantity(nanocores: int) -> str:
    """Nanocores as resource.Quantity prints a DecimalSI value of scale -9 (``3208713n``,
    ``5m``, ``2``): the largest SI suffix that keeps the number whole."""
    if nanocores == 0:
        return "0"
    for divisor, suffix in ((10 ** 9, ""), (10 ** 6, "m"), (10 ** 3, "u")):
        if nanocores % divisor == 0:
            return f"{nanocores // divisor}{suffix}"
    return f"{nanocores}n"


def memory_quantity(size: int) -> str:
    """Bytes as a BinarySI quantity prints (``46456Ki``; ``1536`` when not whole Ki)."""
    if size == 0:
        return "0"
    for power, suffix in ((50, "Pi"), (40, "Ti"), (30, "Gi"), (20, "Mi"), (10, "Ki")):
        if size % (1 << power) == 0:
            return f"{size >> power}{suffix}"
    return str(size)


def window(seconds: float) -> str:
    """A Go ``time.Duration`` string, to the millisecond (``15s``, ``14.998s``)."""
    text = f"{seconds:.3f}".rstrip("0").rstrip(".")
    return f"{text}s"


def _rfc3339(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def status(code: int, reason: str, message: str, details: dict | None = None) -> dict:
    out = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason}
    if details:
        out["details"] = details
    out["code"] = code
    return out


def forbidden_message(user: str, attrs: Attributes, reason: str) -> str:
    """apiserver pkg/endpoints/handlers/responsewriters/errors.go ``forbiddenMessage`` as
    wrapped by ``NewForbidden``."""
    if not attrs.is_resource:
        text = f'User "{user}" cannot {attrs.verb} path "{attrs.path}"'
        return f"forbidden: {text}" + (f": {reason}" if reason else "")
    scope = (f' in the namespace "{attrs.namespace}"' if attrs.namespace
             else " at the cluster scope")
    text = (f'User "{user}" cannot {attrs.verb} resource "{attrs.resource}" in API group '
            f'"{attrs.group}"{scope}')
    if reason:
        text += f": {reason}"
    qualified = f"{attrs.resource}.{attrs.group}"
    return (f'{qualified} "{attrs.name}" is forbidden: {text}' if attrs.name
            else f"{qualified} is forbidden: {text}")


def request_attributes(method: str, path: str, query: dict) -> Attributes:
    """The authorizer's attributes of a request (apiserver pkg/endpoints/request
    ``RequestInfoFactory``, for the paths this server has)."""
    verb = {"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update",
            "PATCH": "patch", "DELETE": "delete"}.get(method, method.lower())
    parts = [p for p in path.split("/") if p]
    if len(parts) < 4 or parts[:3] != ["apis", GROUP, VERSION]:
        return Attributes(verb=verb, path=path)
    rest, namespace = parts[3:], ""
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    resource, name = rest[0], (rest[1] if len(rest) > 1 else "")
    if verb == "get" and not name:
        verb = "watch" if (query.get("watch") or [""])[0] in ("true", "1") else "list"
    return Attributes(verb=verb, path=path, group=GROUP, version=VERSION, resource=resource,
                      namespace=namespace, name=name)


class MetricsAPI:
    """The ASGI app.  ``source`` gives ``store`` (``MetricsStore``), ``nodes()`` and
    ``pods()`` (the informers' objects by name and by (namespace, name))."""

    def __init__(self, source, authn, authz):
        self.source, self.authn, self.authz = source, authn, authz

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        path, method = scope.get("path") or "/", scope.get("method") or "GET"
        query = parse_qs((scope.get("query_string") or b"").decode("latin-1"))
        user = await self.authn.authenticate(header_map(scope), peer_der(scope))
        if user is None:
            return await _json(send, 401, status(401, "Unauthorized", "Unauthorized"))
        attrs = request_attributes(method, path.rstrip("/") or "/", query)
        ok, reason = await self.authz.allowed(user, attrs)
        if not ok:
            details = {"kind": attrs.resource} if attrs.is_resource else None
            if details and attrs.name:
                details["name"] = attrs.name
            if details:
                details["group"] = GROUP
            return await _json(send, 403, status(
                403, "Forbidden", forbidden_message(user.name, attrs, reason), details))
        code, body = self.route(method, attrs, query)
        await _json(send, code, body)

    def route(self, method: str, attrs: Attributes, query: dict) -> tuple[int, dict]:
        path = attrs.path
        if path in ("/healthz", "/livez", "/readyz"):
            return 200, "ok"
        if method not in ("GET", "HEAD") or attrs.verb == "watch":
            return 405, status(405, "MethodNotAllowed",
                               "the server does not allow this method on the requested resource")
        if path == "/apis":
            return 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [GROUP_DOC]}
        if path == f"/apis/{GROUP}":
            return 200, {"kind": "APIGroup", "apiVersion": "v1", **GROUP_DOC}
        if path == f"/apis/{GV}":
            return 200, RESOURCES
        if attrs.resource not in KIND_OF or (attrs.resource == "nodes" and attrs.namespace):
            return 404, status(404, "NotFound", "the server could not find the requested resource")
        try:
            labels = parse_label_selector((query.get("labelSelector") or [""])[0])
            fields = parse_field_selector((query.get("fieldSelector") or [""])[0])
        except SelectorError as exc:
            return 400, status(400, "BadRequest", str(exc))
        if attrs.resource == "nodes":
            return self._nodes(attrs.name, labels, fields)
        return self._pods(attrs.namespace, attrs.name, labels, fields)

    def _nodes(self, name, labels, fields) -> tuple[int, dict]:
        store, nodes = self.source.store, self.source.nodes()
        if name:
            node, usage = nodes.get(name), store.node(name)
            if node is None or usage is None:
                return 404, _not_found("nodemetrics", name)
            return 200, {"kind": "NodeMetrics", "apiVersion": GV, **_node_item(node, usage)}
        items = []
        for node_name in sorted(nodes):
            node = nodes[node_name]
            if not _selected(node, labels, fields):
                continue
            usage = store.node(node_name)
            if usage is not None:
                items.append(_node_item(node, usage))
        return 200, {"kind": "NodeMetricsList", "apiVersion": GV, "metadata": {},
                     "items": items}

    def _pods(self, namespace, name, labels, fields) -> tuple[int, dict]:
        store, pods = self.source.store, self.source.pods()
        if name:
            pod, usage = pods.get((namespace, name)), store.pod(namespace, name)
            if pod is None or usage is None:
                return 404, _not_found("podmetrics", f"{namespace}/{name}")
            return 200, {"kind": "PodMetrics", "apiVersion": GV, **_pod_item(pod, usage)}
        items = []
        for key in sorted(pods):
            if namespace and key[0] != namespace:
                continue
            pod = pods[key]
            if not _selected(pod, labels, fields):
                continue
            usage = store.pod(*key)
            if usage is not None:
                items.append(_pod_item(pod, usage))
        return 200, {"kind": "PodMetricsList", "apiVersion": GV, "metadata": {},
                     "items": items}


def _selected(obj: dict, labels, fields) -> bool:
    meta = obj.get("metadata") or {}
    if labels is not None and not label_selector_matches(labels, meta.get("labels") or {}):
        return False
    values = {"metadata.name": meta.get("name", ""),
              "metadata.namespace": meta.get("namespace", "")}
    return all((values[f] == v) == eq for f, eq, v in fields)


def _not_found(kind: str, name: str) -> dict:
    return status(404, "NotFound", f'{kind}.{GROUP} "{name}" not found',
                  {"name": name, "group": GROUP, "kind": kind})


def _meta(obj: dict, namespaced: bool) -> dict:
    meta = obj.get("metadata") or {}
    out = {"name": meta.get("name", "")}
    if namespaced:
        out["namespace"] = meta.get("namespace", "")
    out["creationTimestamp"] = _rfc3339(time.time())
    if meta.get("labels"):
        out["labels"] = meta["labels"]
    return out


def _node_item(node: dict, usage) -> dict:
    return {"metadata": _meta(node, False), "timestamp": _rfc3339(usage.timestamp),
            "window": window(usage.window),
            "usage": {"cpu": cpu_quantity(usage.cpu_nanocores),
                      "memory": memory_quantity(usage.memory_bytes)}}


def _pod_item(pod: dict, usage) -> dict:
    summary, containers = usage
    return {"metadata": _meta(pod, True), "timestamp": _rfc3339(summary.timestamp),
            "window": window(summary.window),
            "containers": [{"name": name, "usage": {"cpu": cpu_quantity(u.cpu_nanocores),
                                                    "memory": memory_quantity(u.memory_bytes)}}
                           for name, u in containers]}


async def _json(send, code: int, body) -> None:
    data = body.encode() if isinstance(body, str) else orjson.dumps(body)
    ctype = b"text/plain; charset=utf-8" if isinstance(body, str) else b"application/json"
    await send({"type": "http.response.start", "status": code,
                "headers": [(b"content-type", ctype), (b"content-length", str(len(data)).encode()),
                            (b"cache-control", b"no-cache, private")]})
    await send({"type": "http.response.body", "body": data})
