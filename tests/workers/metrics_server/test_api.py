"""The metrics API (workers/metrics_server/api.py): quantities printed as Go's
resource.Quantity, windows as time.Duration, upstream's error texts, request attributes,
and the routes of the ASGI app over a real ``MetricsStore``.

The app runs behind the real delegated authenticator (x509 against a test CA) and
authorizer: ``system:masters`` needs no review; other callers are reviewed by a real
in-process API server (``tests.workers.serving.support``), or by none (a review that
cannot be made)."""
from __future__ import annotations

import asyncio
from urllib.parse import quote

import orjson
import pytest

from tests.certs import CA
from tests.workers.serving.support import (Bob, Unreachable, bind,  # noqa: F401  (fixtures)
                                           peer, review_client)
from workers.metrics_server.api import (MetricsAPI, cpu_quantity, forbidden_message,
                                        memory_quantity, request_attributes, window)
from workers.metrics_server.scraper import ContainerPoint, NodePoint
from workers.metrics_server.store import MetricsStore
from workers.serving.delegated import Attributes, DelegatedAuthenticator, DelegatedAuthorizer

MI = 2 ** 20


@pytest.mark.parametrize("nanocores, text", [
    (0, "0"), (1, "1n"), (3208713, "3208713n"), (1000, "1u"), (5_000_000, "5m"),
    (250_000_000, "250m"), (1_500_000_000, "1500m"), (2_000_000_000, "2"),
    (10 ** 12, "1k"), (1_500 * 10 ** 9, "1500"), (12_300_000, "12300u"),
])
def test_cpu_prints_as_a_decimal_si_quantity_of_scale_minus_nine(nanocores, text):
    assert cpu_quantity(nanocores) == text


@pytest.mark.parametrize("size, text", [
    (0, "0"), (512, "512"), (1000, "1k"), (1023, "1023"), (1024, "1Ki"), (1536, "1536"),
    (2000, "2000"), (46456 * 1024, "46456Ki"), (64 * MI, "64Mi"), (1024000, "1000Ki"),
    (3 * 2 ** 30, "3Gi"), (2 ** 50, "1Pi"), (2 ** 60, "1Ei"),
])
def test_memory_prints_as_a_binary_si_quantity(size, text):
    assert memory_quantity(size) == text


@pytest.mark.parametrize("seconds, text", [
    (15, "15s"), (14.998, "14.998s"), (20.064, "20.064s"), (1.5, "1.5s"), (0.5, "500ms"),
    (0, "0s"), (60, "1m0s"), (60.5, "1m0.5s"), (90.25, "1m30.25s"), (3600, "1h0m0s"),
    (14.998000000001, "14.998s"),
])
def test_windows_print_as_go_durations(seconds, text):
    assert window(seconds) == text


def test_forbidden_messages_are_the_authorization_filters():
    pods = Attributes("list", resource="pods", group="metrics.k8s.io", namespace="ns")
    assert forbidden_message("jane", pods, "") == (
        'pods.metrics.k8s.io is forbidden: User "jane" cannot list resource "pods" in API '
        'group "metrics.k8s.io" in the namespace "ns"')
    node = Attributes("get", resource="nodes", group="metrics.k8s.io", name="n1")
    assert forbidden_message("jane", node, "no RBAC") == (
        'nodes.metrics.k8s.io "n1" is forbidden: User "jane" cannot get resource "nodes" in '
        'API group "metrics.k8s.io" at the cluster scope: no RBAC')
    assert forbidden_message("jane", Attributes("get", path="/apis"), "") == (
        'forbidden: User "jane" cannot get path "/apis"')
    assert forbidden_message("jane", Attributes("get", path="/x"), "nope") == (
        'forbidden: User "jane" cannot get path "/x": nope')


@pytest.mark.parametrize("method, path, query, expected", [
    ("GET", "/apis/metrics.k8s.io/v1beta1/nodes", {}, ("list", "nodes", "", "")),
    ("GET", "/apis/metrics.k8s.io/v1beta1/nodes/n1", {}, ("get", "nodes", "", "n1")),
    ("GET", "/apis/metrics.k8s.io/v1beta1/pods", {}, ("list", "pods", "", "")),
    ("GET", "/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods", {}, ("list", "pods", "ns", "")),
    ("GET", "/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods/web", {},
     ("get", "pods", "ns", "web")),
    ("GET", "/apis/metrics.k8s.io/v1beta1/pods", {"watch": ["true"]}, ("watch", "pods", "", "")),
    ("GET", "/apis/metrics.k8s.io/v1beta1/pods", {"watch": ["false"]}, ("list", "pods", "", "")),
    ("DELETE", "/apis/metrics.k8s.io/v1beta1/nodes/n1", {}, ("delete", "nodes", "", "n1")),
])
def test_request_attributes_of_resource_paths(method, path, query, expected):
    a = request_attributes(method, path, query)
    assert (a.verb, a.resource, a.namespace, a.name) == expected
    assert (a.group, a.version, a.path, a.is_resource) == ("metrics.k8s.io", "v1beta1", path,
                                                          True)


@pytest.mark.parametrize("path", ["/apis", "/apis/metrics.k8s.io",
                                  "/apis/metrics.k8s.io/v1beta1", "/healthz", "/openapi/v2",
                                  "/apis/other.io/v1/nodes"])
def test_other_paths_are_non_resource_requests(path):
    a = request_attributes("GET", path, {})
    assert (a.verb, a.path, a.is_resource) == ("get", path, False)


# -- the ASGI app --------------------------------------------------------------------------

def obj(name, namespace=None, labels=None):
    meta = {"name": name, "labels": labels or {}}
    if namespace:
        meta["namespace"] = namespace
    return {"metadata": meta}


class Source:
    """What ``MetricsServer`` gives the app: the store and the informers' objects."""

    def __init__(self):
        self.store = MetricsStore()
        rates = {("ns", "web"): (0.25, 64 * MI), ("ns", "db"): (1.0, 3 * 2 ** 30),
                 ("other", "web"): (0.05, 8 * MI)}
        for t, cpu in ((85.0, 10.0), (100.0, 13.0)):
            pods = {(ns, pod, "main"): ContainerPoint(t, 50.0, rate * (t - 50.0), memory)
                    for (ns, pod), (rate, memory) in rates.items()}
            if t == 100.0:                  # seen once, with no start time: no metrics
                pods["ns", "fresh", "main"] = ContainerPoint(t, 0.0, 0.5, 8 * MI)
            self.store.store([("n1", NodePoint(t, cpu, 2 ** 30), pods),
                              ("n2", NodePoint(t, cpu, 2 ** 30) if t == 100.0 else None, {})])
        self._nodes = {"n1": obj("n1", labels={"zone": "a"}), "n2": obj("n2"),
                       "n3": obj("n3", labels={"zone": "a"})}
        self._pods = {("ns", "web"): obj("web", "ns", {"app": "web"}),
                      ("ns", "db"): obj("db", "ns", {"app": "db"}),
                      ("other", "web"): obj("web", "other", {"app": "web"}),
                      ("ns", "fresh"): obj("fresh", "ns", {"app": "web"})}

    def nodes(self):
        return self._nodes

    def pods(self):
        return self._pods


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("metrics-api-pki")
    ca = CA("client-ca")
    return {"ca_file": str(ca.write(d / "ca.crt")),
            "admin": peer(ca.issue("admin", ["system:masters"])[0]),
            "jane": peer(ca.issue("jane")[0]), "bob": peer(ca.issue("bob", ["dev"])[0])}


@pytest.fixture(scope="module")
def api(pki):
    return MetricsAPI(Source(), DelegatedAuthenticator(Unreachable(), pki["ca_file"]),
                      DelegatedAuthorizer(Unreachable()))


def call(api, pki, path, query="", cert="admin", method="GET"):
    scope = {"type": "http", "method": method, "path": path, "query_string": query.encode(),
             "headers": [], "extensions": {"tls": pki[cert]} if cert
             else {}}
    out = {}

    async def send(msg):
        if msg["type"] == "http.response.start":
            out["status"], out["headers"] = msg["status"], dict(msg["headers"])
        else:
            out["body"] = msg["body"]
    asyncio.run(api(scope, None, send))
    ctype = out["headers"][b"content-type"]
    body = orjson.loads(out["body"]) if ctype == b"application/json" else out["body"]
    return out["status"], body


V = "/apis/metrics.k8s.io/v1beta1"


def test_discovery(api, pki):
    status, groups = call(api, pki, "/apis")
    assert status == 200 and groups["kind"] == "APIGroupList"
    assert groups["groups"][0]["preferredVersion"] == {"groupVersion": "metrics.k8s.io/v1beta1",
                                                       "version": "v1beta1"}
    assert call(api, pki, "/apis/metrics.k8s.io")[1]["kind"] == "APIGroup"
    resources = call(api, pki, V)[1]["resources"]
    assert [(r["name"], r["kind"], r["namespaced"], r["verbs"]) for r in resources] == [
        ("nodes", "NodeMetrics", False, ["get", "list"]),
        ("pods", "PodMetrics", True, ["get", "list"])]
    assert call(api, pki, "/healthz", cert=None) == (401, {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "Unauthorized", "reason": "Unauthorized", "code": 401})
    assert call(api, pki, "/healthz", cert="jane") == (200, b"ok")     # always allowed


def test_node_metrics(api, pki):
    status, n1 = call(api, pki, f"{V}/nodes/n1")
    assert status == 200 and (n1["kind"], n1["apiVersion"]) == ("NodeMetrics",
                                                                "metrics.k8s.io/v1beta1")
    assert n1["metadata"]["name"] == "n1" and n1["metadata"]["labels"] == {"zone": "a"}
    assert (n1["timestamp"], n1["window"], n1["usage"]) == (
        "1970-01-01T00:01:40Z", "15s", {"cpu": "200m", "memory": "1Gi"})
    listed = call(api, pki, f"{V}/nodes")[1]
    assert listed["kind"] == "NodeMetricsList"
    assert [i["metadata"]["name"] for i in listed["items"]] == ["n1"]   # n2: one point only
    assert call(api, pki, f"{V}/nodes", "labelSelector=zone%3Da")[1]["items"][0][
        "metadata"]["name"] == "n1"
    assert call(api, pki, f"{V}/nodes", "fieldSelector=metadata.name%3Dn2")[1]["items"] == []


def test_node_not_found_texts(api, pki):
    status, body = call(api, pki, f"{V}/nodes/n2")                      # no metrics yet
    assert (status, body["reason"], body["message"]) == (
        404, "NotFound", 'nodemetrics.metrics.k8s.io "n2" not found')
    assert body["details"] == {"name": "n2", "group": "metrics.k8s.io", "kind": "nodemetrics"}
    status, body = call(api, pki, f"{V}/nodes/nope")                    # no such node
    assert (status, body["message"], body["details"]) == (
        404, 'node "nope" not found', {"name": "nope", "kind": "node"})


def test_pod_metrics(api, pki):
    status, web = call(api, pki, f"{V}/namespaces/ns/pods/web")
    assert status == 200 and web["kind"] == "PodMetrics"
    assert (web["metadata"]["name"], web["metadata"]["namespace"]) == ("web", "ns")
    assert web["window"] == "15s"
    assert web["containers"] == [{"name": "main", "usage": {"cpu": "250m", "memory": "64Mi"}}]
    listed = call(api, pki, f"{V}/pods")[1]
    assert listed["kind"] == "PodMetricsList"
    names = [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in listed["items"]]
    assert names == [("ns", "db"), ("ns", "web"), ("other", "web")]   # fresh: no start time
    in_ns = call(api, pki, f"{V}/namespaces/ns/pods", "labelSelector=" + quote("app in (web)"))
    assert [i["metadata"]["name"] for i in in_ns[1]["items"]] == ["web"]
    by_field = call(api, pki, f"{V}/pods", "fieldSelector=metadata.namespace%3Dother")
    assert [i["metadata"]["namespace"] for i in by_field[1]["items"]] == ["other"]
    both = call(api, pki, f"{V}/pods",
                "labelSelector=app%3Dweb&fieldSelector=metadata.namespace%21%3Dother")
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in both[1]["items"]] \
        == [("ns", "web")]


def test_pod_not_found_texts(api, pki):
    status, body = call(api, pki, f"{V}/namespaces/ns/pods/fresh")
    assert (status, body["message"]) == (404, 'podmetrics.metrics.k8s.io "ns/fresh" not found')
    status, body = call(api, pki, f"{V}/namespaces/ns/pods/nope")
    assert (status, body["message"], body["details"]) == (
        404, 'pods "nope" not found', {"name": "nope", "kind": "pods"})


def test_bad_requests_and_unknown_routes(api, pki):
    status, body = call(api, pki, f"{V}/pods", "fieldSelector=spec.nodeName%3Dn1")
    assert (status, body["reason"], body["message"]) == (
        400, "BadRequest", '"spec.nodeName" is not a known field selector: only '
        '"metadata.name", "metadata.namespace"')
    assert call(api, pki, f"{V}/pods", "labelSelector=a%3Db%20c")[0] == 400
    status, body = call(api, pki, f"{V}/services")
    assert (status, body["message"]) == (404, "the server could not find the requested "
                                              "resource")
    assert call(api, pki, f"{V}/namespaces/ns/nodes")[0] == 404
    status, body = call(api, pki, f"{V}/pods", "watch=true")
    assert (status, body["reason"]) == (405, "MethodNotAllowed")
    assert call(api, pki, f"{V}/nodes/n1", method="DELETE")[0] == 405


def test_callers_are_authorized_by_review(pki, review_client):  # noqa: F811
    reviewed = MetricsAPI(Source(), DelegatedAuthenticator(Unreachable(), pki["ca_file"]),
                          DelegatedAuthorizer(review_client))
    status, body = call(reviewed, pki, f"{V}/namespaces/ns/pods", cert="bob")
    assert status == 200 and [i["metadata"]["name"] for i in body["items"]] == ["db", "web"]
    attrs = Bob.seen[-1]
    assert (attrs.user.name, attrs.verb, attrs.api_group, attrs.api_version, attrs.resource,
            attrs.namespace) == ("bob", "list", "metrics.k8s.io", "v1beta1", "pods", "ns")
    status, body = call(reviewed, pki, f"{V}/namespaces/ns/pods", cert="jane")
    assert (status, body["reason"], body["message"]) == (
        403, "Forbidden", 'pods.metrics.k8s.io is forbidden: User "jane" cannot list resource '
        '"pods" in API group "metrics.k8s.io" in the namespace "ns"')
    assert body["details"] == {"kind": "pods", "group": "metrics.k8s.io"}
    status, body = call(reviewed, pki, f"{V}/nodes/n1", cert="jane")
    assert body["details"] == {"kind": "nodes", "name": "n1", "group": "metrics.k8s.io"}
    assert body["message"].startswith('nodes.metrics.k8s.io "n1" is forbidden: User "jane" '
                                      'cannot get resource "nodes"')
    status, body = call(reviewed, pki, "/apis", cert="jane")
    assert (status, body["message"]) == (403, 'forbidden: User "jane" cannot get path "/apis"')


def test_a_review_that_cannot_be_made_is_an_internal_error(api, pki):
    assert call(api, pki, f"{V}/nodes", "labelSelector=a", cert="jane") == (
        500, b'Internal Server Error: "/apis/metrics.k8s.io/v1beta1/nodes?labelSelector=a": '
        b'SubjectAccessReview failed: OSError\n')
