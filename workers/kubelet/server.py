"""The kubelet's API over HTTPS (upstream pkg/kubelet/server/server.go), on its own port
(``daemonEndpoints.kubeletEndpoint``):

* ``/healthz`` — ``ok``;
* ``/pods`` — a PodList of the pods this kubelet runs, as it last saw them;
* ``/stats/summary`` — the Summary API (stats/v1alpha1: node and pod CPU and memory);
* ``/metrics/resource`` — the resource metrics the metrics server scrapes (Prometheus text).

and the streaming endpoints (``streaming.py``): ``/containerLogs``, ``/exec``, ``/attach``
and ``/portForward``, over plain HTTP, websockets or SPDY.

Every request is authenticated (client certificates of ``--client-ca-file``, or a bearer
token by TokenReview; anonymous is refused with 401) and authorized by SubjectAccessReview
for ``nodes/NAME`` with the subresource the path names, exactly as upstream's
pkg/kubelet/server/auth.go maps it: ``/stats`` → stats, ``/metrics`` → metrics, ``/logs``
→ log, ``/checkpoint`` → checkpoint, anything else → proxy; the verb is the HTTP method's
(GET → get, POST → create, …).  Refusals are upstream's plain-text ``Unauthorized`` and
``Forbidden (user=…, verb=…, resource=nodes, subresource=…)``.
"""
from __future__ import annotations

import logging

import orjson

from workers.serving.delegated import Attributes, ReviewError, header_map, peer

from . import streaming
from .node import now_rfc3339
from .usage import Sample

log = logging.getLogger("workers.kubelet.server")

VERBS = {"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update", "PATCH": "patch",
         "DELETE": "delete"}
SUBRESOURCES = (("/stats", "stats"), ("/metrics", "metrics"), ("/logs", "log"),
                ("/checkpoint", "checkpoint"))
PROMETHEUS = b"text/plain; version=0.0.4; charset=utf-8"


def request_attributes(node_name: str, method: str, path: str) -> Attributes:
    """The SubjectAccessReview attributes of a request to the kubelet's API."""
    sub = next((name for prefix, name in SUBRESOURCES
                if path == prefix or path.startswith(prefix + "/")), "proxy")
    return Attributes(verb=VERBS.get(method, method.lower()), resource="nodes", version="v1",
                      subresource=sub, name=node_name, path=path)


def _labels(**kw) -> str:
    return ",".join(f'{k}="{v}"' for k, v in kw.items())


def resource_metrics(sample: Sample) -> bytes:
    """``/metrics/resource`` in the Prometheus text format, timestamps in milliseconds."""
    ts = int(sample.timestamp * 1000)
    out = []

    def family(name, kind, help_text, rows):
        out.append(f"# HELP {name} [STABLE] {help_text}")
        out.append(f"# TYPE {name} {kind}")
        for labels, value, stamp in rows:
            sel = "{" + labels + "}" if labels else ""
            out.append(f"{name}{sel} {value!r}" + (f" {stamp}" if stamp is not None else ""))

    containers = [(p, c) for p in sample.pods for c in p.containers]
    family("container_cpu_usage_seconds_total", "counter",
           "Cumulative cpu time consumed by the container in core-seconds",
           [(_labels(container=c.name, namespace=p.namespace, pod=p.name),
             float(c.cpu_seconds), ts) for p, c in containers])
    family("container_memory_working_set_bytes", "gauge",
           "Current working set of the container in bytes",
           [(_labels(container=c.name, namespace=p.namespace, pod=p.name), float(c.memory), ts)
            for p, c in containers])
    family("container_start_time_seconds", "gauge",
           "Start time of the container since unix epoch in seconds",
           [(_labels(container=c.name, namespace=p.namespace, pod=p.name),
             float(c.start_time), None) for p, c in containers])
    family("node_cpu_usage_seconds_total", "counter",
           "Cumulative cpu time consumed by the node in core-seconds",
           [("", float(sample.node_cpu_seconds), ts)])
    family("node_memory_working_set_bytes", "gauge", "Current working set of the node in bytes",
           [("", float(sample.node_memory), ts)])
    family("pod_cpu_usage_seconds_total", "counter",
           "Cumulative cpu time consumed by the pod in core-seconds",
           [(_labels(namespace=p.namespace, pod=p.name), float(p.cpu_seconds), ts)
            for p in sample.pods])
    family("pod_memory_working_set_bytes", "gauge", "Current working set of the pod in bytes",
           [(_labels(namespace=p.namespace, pod=p.name), float(p.memory), ts)
            for p in sample.pods])
    family("resource_scrape_error", "gauge",
           "1 if there was an error while getting container metrics, 0 otherwise",
           [("", 0.0, None)])
    return ("\n".join(out) + "\n").encode()


def _cpu(rate: float, seconds: float, t: str) -> dict:
    return {"time": t, "usageNanoCores": int(rate * 1e9),
            "usageCoreNanoSeconds": int(seconds * 1e9)}


def _memory(working: int, t: str) -> dict:
    return {"time": t, "workingSetBytes": working, "usageBytes": working, "rssBytes": working}


def summary(node_name: str, sample: Sample) -> dict:
    """``/stats/summary`` (pkg/kubelet/apis/stats/v1alpha1 Summary), CPU and memory."""
    t = now_rfc3339(sample.timestamp)
    return {
        "node": {"nodeName": node_name, "startTime": now_rfc3339(sample.node_start),
                 "cpu": _cpu(sample.node_cpu_rate, sample.node_cpu_seconds, t),
                 "memory": _memory(sample.node_memory, t)},
        "pods": [{"podRef": {"name": p.name, "namespace": p.namespace, "uid": p.uid},
                  "startTime": now_rfc3339(p.start_time),
                  "containers": [{"name": c.name, "startTime": now_rfc3339(c.start_time),
                                  "cpu": _cpu(c.cpu_rate, c.cpu_seconds, t),
                                  "memory": _memory(c.memory, t)} for c in p.containers],
                  "cpu": _cpu(p.cpu_rate, p.cpu_seconds, t), "memory": _memory(p.memory, t)}
                 for p in sample.pods],
    }


async def _send(send, status: int, body: bytes, content_type: bytes = b"text/plain; charset=utf-8"):
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type),
                            (b"content-length", str(len(body)).encode()),
                            (b"x-content-type-options", b"nosniff")]})
    await send({"type": "http.response.body", "body": body})


class KubeletServer:
    """The ASGI app of one kubelet; ``host`` is the ``Kubelet`` (``node_name``,
    ``workers``, ``stats``); ``authn``/``authz`` the delegated checks."""

    def __init__(self, host, authn, authz):
        self.host, self.authn, self.authz = host, authn, authz
        self.streaming = streaming.StreamingServer(host)

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return
        path, method = scope.get("path") or "/", scope.get("method") or "GET"
        # refusals answer a websocket handshake with a plain status too
        stream_send, send = send, streaming.http_sender(scope, send)
        user = await self.authn.authenticate(header_map(scope), peer(scope))
        if user is None:
            return await _send(send, 401, b"Unauthorized")
        attrs = request_attributes(self.host.node_name, method, path)
        try:
            ok, _reason = await self.authz.allowed(user, attrs)
        except ReviewError:                # upstream pkg/kubelet/server/server.go InstallAuthFilter
            msg = (f"Authorization error (user={user.name}, verb={attrs.verb}, resource=nodes, "
                   f"subresource={attrs.subresource})")
            return await _send(send, 500, msg.encode())
        if not ok:
            msg = (f"Forbidden (user={user.name}, verb={attrs.verb}, resource=nodes, "
                   f"subresource={attrs.subresource})")
            return await _send(send, 403, msg.encode())
        if streaming.handles(path):
            return await self.streaming(scope, receive, stream_send, method, path)
        if scope["type"] == "websocket":
            return await _send(send, 404, b"404 page not found\n")
        if method not in ("GET", "HEAD"):
            return await _send(send, 405, b"Method Not Allowed")
        if path == "/healthz":
            return await _send(send, 200, b"ok")
        if path == "/pods":
            items = [w.pod for w in list(self.host.workers.values())]
            body = orjson.dumps({"kind": "PodList", "apiVersion": "v1", "metadata": {},
                                 "items": items})
            return await _send(send, 200, body, b"application/json")
        if path in ("/metrics/resource", "/stats/summary"):
            sample = self.host.stats.sample(list(self.host.workers.values()))
            if path == "/stats/summary":
                return await _send(send, 200, orjson.dumps(summary(self.host.node_name, sample)),
                                   b"application/json")
            return await _send(send, 200, resource_metrics(sample), PROMETHEUS)
        return await _send(send, 404, b"404 page not found\n")
