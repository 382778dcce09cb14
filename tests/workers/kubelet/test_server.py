"""The kubelet's HTTPS API handler (workers/kubelet/server.py): authorizer attributes as
upstream pkg/kubelet/server/auth.go maps paths, the resource metrics text the metrics
server scrapes, the Summary API, and the 401/403/404 answers of the ASGI app.

The app runs with the real delegated authenticator (x509 against a test CA) and
authorizer, configured as ``workers/kubelet/kubelet.py`` does (no always-allowed paths or
groups): every caller is reviewed by a real in-process API server
(``tests.workers.serving.support``; it allows ``system:masters``), or by none (a review
that cannot be made)."""
from __future__ import annotations

import asyncio

import orjson
import pytest

from tests.certs import CA
from tests.workers.serving.support import (Unreachable, bind,  # noqa: F401  (fixtures)
                                           peer, review_client)
from workers.kubelet import status as st
from workers.kubelet.pods import PodWorker
from workers.kubelet.server import KubeletServer, request_attributes, resource_metrics, summary
from workers.kubelet.usage import ContainerUsage, PodUsage, Sample, Stats
from workers.metrics_server.scraper import parse_resource_metrics
from workers.serving.delegated import DelegatedAuthenticator, DelegatedAuthorizer

T0 = 1_800_000_000.0


@pytest.mark.parametrize("method, path, verb, sub", [
    ("GET", "/stats/summary", "get", "stats"),
    ("GET", "/stats", "get", "stats"),
    ("GET", "/metrics", "get", "metrics"),
    ("GET", "/metrics/resource", "get", "metrics"),
    ("GET", "/metrics/cadvisor", "get", "metrics"),
    ("GET", "/logs/", "get", "log"),
    ("POST", "/checkpoint/ns/pod/c", "create", "checkpoint"),
    ("GET", "/pods", "get", "proxy"),
    ("GET", "/healthz", "get", "proxy"),
    ("GET", "/statsz", "get", "proxy"),           # a prefix is not a subpath
    ("GET", "/metricsfoo/x", "get", "proxy"),
    ("POST", "/exec/ns/pod/c", "create", "proxy"),
    ("PUT", "/x", "update", "proxy"),
    ("PATCH", "/x", "patch", "proxy"),
    ("DELETE", "/x", "delete", "proxy"),
])
def test_request_attributes_name_the_node_subresource(method, path, verb, sub):
    a = request_attributes("node-1", method, path)
    assert (a.verb, a.resource, a.subresource, a.name, a.version, a.group, a.namespace,
            a.path) == (verb, "nodes", sub, "node-1", "v1", "", "", path)
    assert a.is_resource


def sample() -> Sample:
    web = PodUsage("ns", "web", "uid-web", T0 - 100, [
        ContainerUsage("main", T0 - 90, 12.5, 0.25, 64 * 2 ** 20),
        ContainerUsage("side", T0 - 80, 1.0, 0.01, 2 ** 20)])
    return Sample(T0 + 0.5, 300.0, 0.31, 512 * 2 ** 20, [web], T0 - 1000)


def test_resource_metrics_is_prometheus_text_the_scraper_reads():
    text = resource_metrics(sample()).decode()
    lines = text.splitlines()
    assert text.endswith("\n")
    assert "# TYPE container_cpu_usage_seconds_total counter" in lines
    assert "# HELP node_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by " \
           "the node in core-seconds" in lines
    assert 'container_cpu_usage_seconds_total{container="main",namespace="ns",pod="web"} ' \
           '12.5 1800000000500' in lines
    assert "node_memory_working_set_bytes 536870912.0 1800000000500" in lines
    assert 'pod_cpu_usage_seconds_total{namespace="ns",pod="web"} 13.5 1800000000500' in lines
    # start times carry no timestamp; the scrape error gauge is 0
    assert f'container_start_time_seconds{{container="side",namespace="ns",pod="web"}} ' \
           f'{T0 - 80!r}' in lines
    assert "resource_scrape_error 0.0" in lines
    node, containers = parse_resource_metrics(text, now=0.0)
    assert (node.timestamp, node.cpu_seconds, node.memory) == (T0 + 0.5, 300.0, 512 * 2 ** 20)
    main = containers[("ns", "web", "main")]
    assert (main.timestamp, main.start_time, main.cpu_seconds, main.memory) == (
        T0 + 0.5, T0 - 90, 12.5, 64 * 2 ** 20)
    assert set(containers) == {("ns", "web", "main"), ("ns", "web", "side")}


def test_summary_has_node_pod_and_container_stats():
    out = summary("node-1", sample())
    node = out["node"]
    assert node["nodeName"] == "node-1" and node["startTime"] == "2027-01-15T07:43:20Z"
    assert node["cpu"] == {"time": "2027-01-15T08:00:00Z", "usageNanoCores": 310000000,
                           "usageCoreNanoSeconds": 300 * 10 ** 9}
    assert node["memory"]["workingSetBytes"] == 512 * 2 ** 20
    (p,) = out["pods"]
    assert p["podRef"] == {"name": "web", "namespace": "ns", "uid": "uid-web"}
    assert [c["name"] for c in p["containers"]] == ["main", "side"]
    assert p["containers"][0]["cpu"]["usageNanoCores"] == 250000000
    assert p["cpu"]["usageCoreNanoSeconds"] == 13_500_000_000
    assert p["memory"]["workingSetBytes"] == 65 * 2 ** 20


# -- the ASGI app --------------------------------------------------------------------------

class Host:
    node_name = "node-1"

    def __init__(self):
        w = PodWorker(None, {"metadata": {"namespace": "ns", "name": "web", "uid": "u1",
                                          "annotations": {"sim.kubelet/cpu-usage": "250m"}},
                             "spec": {"containers": [{"name": "main", "image": "nginx"}]}})
        w.start_time = "2026-01-01T00:00:00Z"
        rec = w.containers[0]
        rec.state, rec.container_id, rec.started_at = st.RUNNING, "c1", w.start_time
        self.workers = {"u1": w}
        self.stats = Stats()


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("kubelet-pki")
    ca = CA("client-ca")
    return {"ca_file": str(ca.write(d / "ca.crt")),
            "admin": peer(ca.issue("admin", ["system:masters"])[0]),
            "node2": peer(ca.issue("system:node:node-2", ["system:nodes"])[0])}


def call(pki, path, cert=None, method="GET", api=None):
    """(status, content type, body) of one request; ``api`` answers the reviews."""
    app = KubeletServer(Host(), DelegatedAuthenticator(Unreachable(), pki["ca_file"]),
                        DelegatedAuthorizer(api or Unreachable(), always_allow_paths=(),
                                            always_allow_groups=()))
    scope = {"type": "http", "method": method, "path": path, "headers": [],
             "extensions": {"tls": pki[cert]} if cert else {}}
    out = {}

    async def send(msg):
        if msg["type"] == "http.response.start":
            out["status"] = msg["status"]
            out["headers"] = dict(msg["headers"])
        else:
            out["body"] = msg["body"]
    asyncio.run(app(scope, None, send))
    return out["status"], out["headers"].get(b"content-type", b"").decode(), out["body"]


def test_anonymous_callers_are_unauthorized(pki):
    # (a certificate of another CA fails the TLS handshake: tests/workers/serving/test_https)
    assert call(pki, "/pods") == (401, "text/plain; charset=utf-8", b"Unauthorized")


def test_a_refused_review_is_forbidden_with_the_attributes(pki, review_client):  # noqa: F811
    assert call(pki, "/metrics/resource", "node2", api=review_client) == (
        403, "text/plain; charset=utf-8",
        b"Forbidden (user=system:node:node-2, verb=get, resource=nodes, subresource=metrics)")
    assert review_client.requests == ["/apis/authorization.k8s.io/v1/subjectaccessreviews"]


def test_a_review_that_cannot_be_made_is_an_authorization_error(pki):
    assert call(pki, "/stats/summary", "node2") == (
        500, "text/plain; charset=utf-8", b"Authorization error (user=system:node:node-2, "
        b"verb=get, resource=nodes, subresource=stats)")


def test_masters_read_the_endpoints(pki, review_client):  # noqa: F811
    assert call(pki, "/healthz", "admin", api=review_client)[::2] == (200, b"ok")
    status, ctype, body = call(pki, "/pods", "admin", api=review_client)
    pods = orjson.loads(body)
    assert (status, ctype, pods["kind"]) == (200, "application/json", "PodList")
    assert [p["metadata"]["name"] for p in pods["items"]] == ["web"]
    status, ctype, body = call(pki, "/metrics/resource", "admin", api=review_client)
    assert status == 200 and ctype == "text/plain; version=0.0.4; charset=utf-8"
    assert b'container_memory_working_set_bytes{container="main",namespace="ns",pod="web"}' \
        in body
    status, _, body = call(pki, "/stats/summary", "admin", api=review_client)
    assert status == 200 and orjson.loads(body)["pods"][0]["podRef"]["uid"] == "u1"
    assert call(pki, "/nope", "admin", api=review_client)[::2] == (404, b"404 page not found\n")
    assert call(pki, "/pods", "admin", "POST", api=review_client)[::2] == (
        405, b"Method Not Allowed")
    # even /healthz and system:masters are reviewed: the kubelet always-allows nothing
    assert len(review_client.requests) == 6


def test_websocket_handshakes_are_refused_with_a_plain_status(pki, review_client):  # noqa: F811
    """Refusals before routing answer a websocket handshake through ASGI's
    ``websocket.http.response`` (the client sees the status, not a 101); only the streaming
    paths take websockets."""
    def handshake(path, cert, api):
        app = KubeletServer(Host(), DelegatedAuthenticator(Unreachable(), pki["ca_file"]),
                            DelegatedAuthorizer(api, always_allow_paths=(),
                                                always_allow_groups=()))
        scope = {"type": "websocket", "path": path, "headers": [], "subprotocols": [],
                 "extensions": {"websocket.http.response": {},
                                **({"tls": pki[cert]} if cert else {})}}
        sent = []

        async def send(msg):
            sent.append(msg)

        async def receive():
            return {"type": "websocket.connect"}
        asyncio.run(app(scope, receive, send))
        return [m["type"] for m in sent], sent[0].get("status"), sent[-1].get("body")
    start, body = "websocket.http.response.start", "websocket.http.response.body"
    assert handshake("/pods", None, Unreachable()) == ([start, body], 401, b"Unauthorized")
    assert handshake("/pods", "admin", review_client) == (
        [start, body], 404, b"404 page not found\n")
