"""The endpoints and endpointslice controllers of ``manage.py up``, as kubectl sees them:
pods created directly (no Deployment) and marked Running with an IP through their status
subresource, as a kubelet would; a Service with a named targetPort; its Endpoints and
EndpointSlices follow readiness, deletion and termination, and go with the Service."""
from __future__ import annotations

import json
import time
import uuid

import pytest

from controller_support import wait_for

ZONE = "topology.kubernetes.io/zone"


def _wait(predicate, timeout=20.0):
    return wait_for(predicate, timeout)


@pytest.fixture
def node(kubectl):
    name = f"ep-node-{uuid.uuid4().hex[:8]}"
    kubectl("create", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {ZONE: "zone-a"}}}))
    yield name
    kubectl("delete", "node", name, "--ignore-not-found", "--wait=false")


def _run_pod(server, kubectl, namespace, name, node, ip, ready=True, labels=None):
    """Create a pod bound to ``node`` and give it a status as its kubelet would."""
    kubectl("-n", namespace, "create", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {"app": "web"}},
        "spec": {"nodeName": node, "containers": [{
            "name": "web", "image": "nginx",
            "ports": [{"name": "http", "containerPort": 8080}]}]}}))
    set_ready(server, namespace, name, ip, ready)


def set_ready(server, namespace, name, ip, ready):
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    status, _, body = server.request(
        "PATCH", f"/api/v1/namespaces/{namespace}/pods/{name}/status",
        body=json.dumps({"status": {
            "phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
            "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                            "lastTransitionTime": now}]}}).encode(),
        headers={"Content-Type": "application/merge-patch+json"})
    assert status == 200, body


def _get(kubectl, namespace, *args):
    cp = kubectl("-n", namespace, "get", *args, "-o", "json", check=False)
    return json.loads(cp.stdout) if cp.returncode == 0 else None


def _addresses(endpoints, field="addresses"):
    if not endpoints:
        return None
    return sorted(a["ip"] for s in endpoints.get("subsets") or [] for a in s.get(field) or [])


def _slices(kubectl, namespace, service):
    return (_get(kubectl, namespace, "endpointslices", "-l",
                 f"kubernetes.io/service-name={service}") or {}).get("items") or []


def _slice_endpoints(kubectl, namespace, service):
    """address -> endpoint, over the Service's slices."""
    return {a: e for s in _slices(kubectl, namespace, service) for e in s.get("endpoints") or []
            for a in e["addresses"]}


SERVICE = {"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": "web", "labels": {"tier": "front"}},
           "spec": {"selector": {"app": "web"},
                    "ports": [{"name": "web", "port": 80, "targetPort": "http"}]}}


def test_endpoints_and_slices_follow_the_pods_of_a_service(server, kubectl, namespace, node):
    for i, ready in enumerate([True, True, False]):
        _run_pod(server, kubectl, namespace, f"web-{i}", node, f"10.244.1.{10 + i}", ready)
    _run_pod(server, kubectl, namespace, "other", node, "10.244.1.99", labels={"app": "db"})
    kubectl("-n", namespace, "create", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "manual"},
        "spec": {"ports": [{"port": 80}]}}))
    kubectl("-n", namespace, "create", "-f", "-", input=json.dumps(SERVICE))

    ep = _wait(lambda: (e := _get(kubectl, namespace, "endpoints", "web")) and
               _addresses(e) == ["10.244.1.10", "10.244.1.11"] and e)
    assert ep, _get(kubectl, namespace, "endpoints", "web")
    assert _addresses(ep, "notReadyAddresses") == ["10.244.1.12"]
    (subset,) = ep["subsets"]
    assert subset["ports"] == [{"name": "web", "port": 8080, "protocol": "TCP"}]
    first = subset["addresses"][0]
    assert first["nodeName"] == node
    assert first["targetRef"]["kind"] == "Pod" and first["targetRef"]["name"] == "web-0"
    assert ep["metadata"]["labels"] == {"tier": "front"}
    assert "endpoints.kubernetes.io/last-change-trigger-time" in ep["metadata"]["annotations"]
    table = kubectl("-n", namespace, "get", "endpoints", "web").stdout
    assert "10.244.1.10:8080,10.244.1.11:8080" in table
    # a Service without a selector is left to its owner
    assert _get(kubectl, namespace, "endpoints", "manual") is None

    slices = _wait(lambda: len(_slice_endpoints(kubectl, namespace, "web")) == 3 and
                   _slices(kubectl, namespace, "web"))
    assert slices, _slices(kubectl, namespace, "web")
    (es,) = slices
    assert es["metadata"]["name"].startswith("web-")
    assert es["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == \
        "endpointslice-controller.k8s.io"
    assert es["metadata"]["labels"]["tier"] == "front"
    (owner,) = es["metadata"]["ownerReferences"]
    service_uid = _get(kubectl, namespace, "service", "web")["metadata"]["uid"]
    assert (owner["kind"], owner["name"], owner["uid"], owner["controller"],
            owner["blockOwnerDeletion"]) == ("Service", "web", service_uid, True, True)
    assert es["addressType"] == "IPv4"
    assert es["ports"] == [{"name": "web", "port": 8080, "protocol": "TCP"}]
    by_ip = _slice_endpoints(kubectl, namespace, "web")
    assert by_ip["10.244.1.10"]["conditions"] == {"ready": True, "serving": True,
                                                  "terminating": False}
    assert by_ip["10.244.1.12"]["conditions"]["ready"] is False
    assert by_ip["10.244.1.10"]["zone"] == "zone-a"
    assert by_ip["10.244.1.10"]["nodeName"] == node
    assert by_ip["10.244.1.10"]["targetRef"]["name"] == "web-0"
    listed = kubectl("-n", namespace, "get", "endpointslices", "-l",
                     "kubernetes.io/service-name=web").stdout
    assert "IPv4" in listed and "10.244.1.1" in listed
    # converged: no further writes (what the server stores compares equal to what is wanted)
    versions = (_get(kubectl, namespace, "endpoints", "web")["metadata"]["resourceVersion"],
                _slices(kubectl, namespace, "web")[0]["metadata"]["resourceVersion"])
    time.sleep(2)
    assert versions == (
        _get(kubectl, namespace, "endpoints", "web")["metadata"]["resourceVersion"],
        _slices(kubectl, namespace, "web")[0]["metadata"]["resourceVersion"])
    # kubectl describe reads the slices: the ready endpoints with their target port
    described = kubectl("-n", namespace, "describe", "service", "web").stdout
    endpoints_line = next(line for line in described.splitlines()
                          if line.startswith("Endpoints:"))
    assert "10.244.1.10:8080" in endpoints_line and "10.244.1.12" not in endpoints_line

    # the not-ready pod turns ready: it moves over, in the same slice
    set_ready(server, namespace, "web-2", "10.244.1.12", True)
    assert _wait(lambda: _addresses(_get(kubectl, namespace, "endpoints", "web")) ==
                 ["10.244.1.10", "10.244.1.11", "10.244.1.12"])
    assert _wait(lambda: _slice_endpoints(kubectl, namespace, "web")["10.244.1.12"]
                 ["conditions"]["ready"])
    assert [s["metadata"]["name"] for s in _slices(kubectl, namespace, "web")] == \
        [es["metadata"]["name"]]

    # a deleted pod leaves both
    kubectl("-n", namespace, "delete", "pod", "web-1", "--grace-period=0", "--force")
    assert _wait(lambda: _addresses(_get(kubectl, namespace, "endpoints", "web")) ==
                 ["10.244.1.10", "10.244.1.12"])
    assert _wait(lambda: set(_slice_endpoints(kubectl, namespace, "web")) ==
                 {"10.244.1.10", "10.244.1.12"})

    # a terminating pod (no kubelet finishes it) leaves the Endpoints, stays in the slice
    kubectl("-n", namespace, "delete", "pod", "web-0", "--wait=false")
    assert _wait(lambda: _addresses(_get(kubectl, namespace, "endpoints", "web")) ==
                 ["10.244.1.12"])
    terminating = _wait(lambda: (e := _slice_endpoints(kubectl, namespace, "web")
                                 .get("10.244.1.10")) and e["conditions"]["terminating"] and e)
    assert terminating and terminating["conditions"] == {"ready": False, "serving": True,
                                                         "terminating": True}

    # deleting the Service removes its Endpoints and (garbage collector) its slices
    kubectl("-n", namespace, "delete", "service", "web")
    assert _wait(lambda: _get(kubectl, namespace, "endpoints", "web") is None)
    assert _wait(lambda: _slices(kubectl, namespace, "web") == [], timeout=30)


def test_a_service_without_ready_pods_gets_a_placeholder_and_publishes_not_ready(
        server, kubectl, namespace, node):
    svc = json.loads(json.dumps(SERVICE))
    svc["metadata"]["name"] = "api"
    svc["spec"]["selector"] = {"app": "api"}
    kubectl("-n", namespace, "create", "-f", "-", input=json.dumps(svc))
    # no pods yet: an empty Endpoints and one empty slice
    ep = _wait(lambda: _get(kubectl, namespace, "endpoints", "api"))
    assert ep and not ep.get("subsets")
    placeholder = _wait(lambda: _slices(kubectl, namespace, "api"))
    assert len(placeholder) == 1 and not placeholder[0].get("endpoints")
    _run_pod(server, kubectl, namespace, "api-0", node, "10.244.2.10", ready=False,
             labels={"app": "api"})
    assert _wait(lambda: _addresses(_get(kubectl, namespace, "endpoints", "api"),
                                    "notReadyAddresses") == ["10.244.2.10"])
    # the placeholder is filled in place, not replaced
    filled = _wait(lambda: (s := _slices(kubectl, namespace, "api")) and
                   s[0].get("endpoints") and s)
    assert [s["metadata"]["name"] for s in filled] == [placeholder[0]["metadata"]["name"]]
    kubectl("-n", namespace, "patch", "service", "api", "-p",
            json.dumps({"spec": {"publishNotReadyAddresses": True}}))
    assert _wait(lambda: _addresses(_get(kubectl, namespace, "endpoints", "api")) ==
                 ["10.244.2.10"])
    assert _wait(lambda: _slice_endpoints(kubectl, namespace, "api")["10.244.2.10"]
                 ["conditions"] == {"ready": True, "serving": False, "terminating": False})
    # PreferClose: each endpoint is hinted to the zone of its node
    kubectl("-n", namespace, "patch", "service", "api", "-p",
            json.dumps({"spec": {"trafficDistribution": "PreferClose"}}))
    assert _wait(lambda: _slice_endpoints(kubectl, namespace, "api")["10.244.2.10"]
                 .get("hints") == {"forZones": [{"name": "zone-a"}]})
    # the kubernetes Service's Endpoints stays the apiserver's
    default = _get(kubectl, "default", "endpoints", "kubernetes")
    assert default is None or "endpoints.kubernetes.io/last-change-trigger-time" not in \
        (default["metadata"].get("annotations") or {})
    if default is not None:
        # beside it the apiserver's own EndpointSlice, which no controller manages
        es = _get(kubectl, "default", "endpointslice", "kubernetes")
        assert es["metadata"]["labels"] == {"kubernetes.io/service-name": "kubernetes"}
        assert es["endpoints"] == [{"addresses": [default["subsets"][0]["addresses"][0]["ip"]],
                                    "conditions": {"ready": True}}]
        assert [(p["name"], p["port"]) for p in es["ports"]] == [
            (p["name"], p["port"]) for p in default["subsets"][0]["ports"]]


def test_hand_written_endpoints_of_a_selectorless_service_are_mirrored(kubectl, namespace):
    kubectl("-n", namespace, "create", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "db"},
        "spec": {"ports": [{"name": "sql", "port": 5432}]}}))
    kubectl("-n", namespace, "create", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "db", "labels": {"team": "data"}},
        "subsets": [{"addresses": [{"ip": "192.0.2.10"}],
                     "notReadyAddresses": [{"ip": "192.0.2.11"}],
                     "ports": [{"name": "sql", "port": 5432}]}]}))
    mirrored = _wait(lambda: len(_slice_endpoints(kubectl, namespace, "db")) == 2 and
                     _slices(kubectl, namespace, "db"))
    assert mirrored, _slices(kubectl, namespace, "db")
    (es,) = mirrored
    assert es["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == \
        "endpointslicemirroring-controller.k8s.io"
    assert es["metadata"]["labels"]["team"] == "data"
    assert es["metadata"]["ownerReferences"][0]["kind"] == "Endpoints"
    assert es["ports"] == [{"name": "sql", "port": 5432, "protocol": "TCP"}]
    by_ip = _slice_endpoints(kubectl, namespace, "db")
    assert by_ip["192.0.2.10"]["conditions"]["ready"] is True
    assert by_ip["192.0.2.11"]["conditions"]["ready"] is False
    # the endpoints controller leaves these Endpoints as written
    ep = _get(kubectl, namespace, "endpoints", "db")
    assert _addresses(ep) == ["192.0.2.10"] and ep["metadata"]["labels"] == {"team": "data"}

    kubectl("-n", namespace, "patch", "endpoints", "db", "--type=json", "-p", json.dumps([
        {"op": "add", "path": "/subsets/0/addresses/-", "value": {"ip": "192.0.2.12"}}]))
    assert _wait(lambda: set(_slice_endpoints(kubectl, namespace, "db")) ==
                 {"192.0.2.10", "192.0.2.11", "192.0.2.12"})
    assert [s["metadata"]["name"] for s in _slices(kubectl, namespace, "db")] == \
        [es["metadata"]["name"]]                        # updated in place

    # skip-mirror: the mirrored slice goes
    kubectl("-n", namespace, "label", "endpoints", "db",
            "endpointslice.kubernetes.io/skip-mirror=true")
    assert _wait(lambda: _slices(kubectl, namespace, "db") == [])
    # the apiserver's own Endpoints carries that label: never mirrored
    assert not [s for s in _slices(kubectl, "default", "kubernetes")
                if s["metadata"]["labels"].get("endpointslice.kubernetes.io/managed-by") ==
                "endpointslicemirroring-controller.k8s.io"]
