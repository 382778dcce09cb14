"""The metrics server's HTTP API: discovery and ``metrics.k8s.io/v1beta1`` nodes and pods
(upstream metrics-server pkg/api: install.go, node.go, pod.go), behind delegated
authentication and authorization (``workers.serving.delegated``).

Routes (GET only; ``watch`` is refused with 405 as upstream's storage has no watcher):

* ``/healthz``, ``/livez``, ``/readyz``; ``/apis``, ``/apis/metrics.k8s.io``,
  ``/apis/metrics.k8s.io/v1beta1`` (discovery);
* ``…/v1beta1/nodes[/NAME]``, ``…/v1beta1/pods`` and ``…/v1beta1/namespaces/NS/pods[/NAME]``,
  with ``labelSelector`` (and ``fieldSelector`` on ``metadata.name``/``metadata.namespace``).

Errors are ``Status`` objects with upstream's texts: ``pods "name" not found`` (no such
pod), ``podmetrics.metrics.k8s.io "ns/name" not found`` (no metrics yet), the authorization filter's ``… is forbidden: User "u" cannot list resource
"pods" in API group "metrics.k8s.io" in the namespace "ns"``, ``Unauthorized``.
"""
from __future__ import annotations

import time
from urllib.parse import parse_qs

import orjson

from workers.scheduler.selectors import label_selector_matches
from workers.serving.delegated import Attributes, ReviewError, header_map, peer

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


_DECIMAL_SUFFIXES = {-9: "n", -6: "u", -3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T",
                     15: "P", 18: "E"}
_BINARY_SUFFIXES = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")


def _decimal_si(mantissa: int, exponent: int) -> str:
    """``mantissa``·10^``exponent`` as apimachinery pkg/api/resource/amount.go
    ``int64Amount.AsCanonicalBytes`` and the DecimalSI suffixer print it: trailing zeros
    move into the exponent, which is then lowered to a multiple of three."""
    if mantissa == 0:
        return "0"
    while mantissa % 10 == 0:
        mantissa //= 10
        exponent += 1
    shift = exponent % 3                  # Python's modulo is never negative
    mantissa, exponent = mantissa * 10 ** shift, exponent - shift
    suffix = _DECIMAL_SUFFIXES.get(exponent)
    return f"{mantissa}{suffix}" if suffix is not None else f"{mantissa}e{exponent}"


def cpu_quantity(nanocores: int) -> str:
    """Nanocores as resource.Quantity prints ``NewScaledQuantity(n, -9)`` (metrics-server
    pkg/storage): ``3208713n``, ``5m``, ``2``, ``1k``."""
    return _decimal_si(int(nanocores), -9)


def memory_quantity(size: int) -> str:
    """Bytes as resource.Quantity prints a BinarySI value (quantity.go
    ``CanonicalizeBytes``): ``46456Ki``, ``1536`` when not a whole Ki; a value under 1024
    prints as DecimalSI (``1k`` for 1000)."""
    size = int(size)
    if -1024 < size < 1024:
        return _decimal_si(size, 0)
    power = 0
    while size % 1024 == 0 and power < len(_BINARY_SUFFIXES) - 1:
        size //= 1024
        power += 1
    return f"{size}{_BINARY_SUFFIXES[power]}"


def window(seconds: float) -> str:
    """A Go ``time.Duration.String()`` (``15s``, ``14.998s``, ``1m0.5s``, ``500ms``), of
    the duration rounded to the millisecond (the kubelet's timestamps are milliseconds)."""
    ms = int(round(seconds * 1000))
    if ms == 0:
        return "0s"
    sign, ms = ("-", -ms) if ms < 0 else ("", ms)
    if ms < 1000:
        return f"{sign}{ms}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs = f"{rest // 1000}" + (f".{rest % 1000:03d}".rstrip("0") if rest % 1000 else "")
    if hours:
        return f"{sign}{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{sign}{minutes}m{secs}s"
    return f"{sign}{secs}s"


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
        user = await self.authn.authenticate(header_map(scope), peer(scope))
        if user is None:
            return await _json(send, 401, status(401, "Unauthorized", "Unauthorized"))
        attrs = request_attributes(method, path.rstrip("/") or "/", query)
        try:
            ok, reason = await self.authz.allowed(user, attrs)
        except ReviewError as exc:
            # apiserver pkg/endpoints/filters/authorization.go → responsewriters.InternalError
            uri = path + (f"?{scope['query_string'].decode('latin-1')}"
                          if scope.get("query_string") else "")
            return await _json(send, 500, f'Internal Server Error: "{uri}": {exc}\n')
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
            if node is None:                 # the node lister's own NotFound (resource "node")
                return 404, _not_found("node", name, "")
            if usage is None:
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
            if pod is None:                  # the pod metadata lister's NotFound (core "pods")
                return 404, _not_found("pods", name, "")
            if usage is None:
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


def _not_found(resource: str, name: str, group: str = GROUP) -> dict:
    """apimachinery ``NewNotFound``.  Upstream (metrics-server pkg/api node.go, pod.go)
    answers an object its listers do not know with the lister's error (``node "n"``,
    ``pods "p"``: client-go listers), and one without metrics yet with its own
    ``nodemetrics.metrics.k8s.io "n"`` / ``podmetrics.metrics.k8s.io "ns/p"``."""
    qualified = f"{resource}.{group}" if group else resource
    details = {"name": name, "group": group, "kind": resource} if group else \
        {"name": name, "kind": resource}
    return status(404, "NotFound", f'{qualified} "{name}" not found', details)


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
