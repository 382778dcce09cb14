"""The persistentvolume-binder controller run by ``manage.py up`` (static binding): claims
bind to the smallest fitting Available volume or to the one they name, both sides record the
binding, deleted claims release their volumes by the reclaim policy, and WaitForFirstConsumer
classes wait for a scheduled pod."""
from __future__ import annotations

import json

import pytest

from controller_support import controller_manager, wait_for


def _wait(predicate, timeout=20.0):
    return wait_for(predicate, timeout)


@pytest.fixture
def cluster(server, kubectl, namespace):
    """Create cluster-scoped volumes/classes named after the namespace; delete them after."""
    made = []

    def create(obj):
        kubectl("create", "-f", "-", input=json.dumps(obj))
        made.append(f"{obj['kind'].lower()}/{obj['metadata']['name']}")
    yield create
    for ref in made:
        kubectl("delete", ref, "--ignore-not-found", "--wait=false")


def pv(name, size, cls, modes=("ReadWriteOnce",), policy="Retain", labels=None, **spec):
    return {"apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": name, "labels": labels or {}},
            "spec": {"capacity": {"storage": size}, "accessModes": list(modes),
                     "persistentVolumeReclaimPolicy": policy, "storageClassName": cls,
                     "hostPath": {"path": f"/tmp/{name}"}, **spec}}


def pvc(name, size, cls, modes=("ReadWriteOnce",), **spec):
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
            "spec": {"accessModes": list(modes), "storageClassName": cls,
                     "resources": {"requests": {"storage": size}}, **spec}}


def sc(name, mode="Immediate", provisioner="kubernetes.io/no-provisioner"):
    return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": name}, "provisioner": provisioner,
            "volumeBindingMode": mode}


def _get(server, path):
    status, _, body = server.request("GET", path)
    return json.loads(body) if status == 200 else None


def _claim(server, ns, name):
    return _get(server, f"/api/v1/namespaces/{ns}/persistentvolumeclaims/{name}")


def _volume(server, name):
    return _get(server, f"/api/v1/persistentvolumes/{name}")


def _bound(server, ns, name):
    c = _claim(server, ns, name)
    return c if c and c["status"].get("phase") == "Bound" else None


def _events(kubectl, ns, name):
    items = json.loads(kubectl("-n", ns, "get", "events", "--field-selector",
                               f"involvedObject.name={name}", "-o", "json").stdout)["items"]
    return {(e["reason"], e["message"]) for e in items}


def test_a_claim_binds_the_smallest_matching_volume_and_both_sides_record_it(
        server, kubectl, namespace, cluster):
    cls, other = f"fast-{namespace}", f"slow-{namespace}"
    cluster(sc(cls))
    cluster(pv(f"{namespace}-1g", "1Gi", cls))
    cluster(pv(f"{namespace}-5g", "5Gi", cls))
    cluster(pv(f"{namespace}-3g", "3Gi", cls))
    cluster(pv(f"{namespace}-2g-other", "2Gi", other))
    cluster(pv(f"{namespace}-2g-block", "2Gi", cls, volumeMode="Block"))
    cluster(pv(f"{namespace}-4g-gold", "4Gi", cls, labels={"tier": "gold"}))
    for name in (f"{namespace}-3g", f"{namespace}-5g", f"{namespace}-4g-gold"):
        assert _wait(lambda n=name: (_volume(server, n) or {}).get("status", {}).get(
            "phase") == "Available"), _volume(server, name)
    kubectl("-n", namespace, "create", "-f", "-", input=json.dumps(pvc("data", "2Gi", cls)))
    claim = _wait(lambda: _bound(server, namespace, "data"))
    assert claim, _claim(server, namespace, "data")
    assert claim["spec"]["volumeName"] == f"{namespace}-3g"
    assert claim["status"]["capacity"] == {"storage": "3Gi"}
    assert claim["status"]["accessModes"] == ["ReadWriteOnce"]
    ann = claim["metadata"]["annotations"]
    assert ann["pv.kubernetes.io/bind-completed"] == "yes"
    assert ann["pv.kubernetes.io/bound-by-controller"] == "yes"
    volume = _wait(lambda: (v := _volume(server, f"{namespace}-3g"))["status"]["phase"] ==
                   "Bound" and v)
    ref = volume["spec"]["claimRef"]
    assert (ref["kind"], ref["namespace"], ref["name"], ref["uid"]) == \
        ("PersistentVolumeClaim", namespace, "data", claim["metadata"]["uid"])
    assert volume["metadata"]["annotations"]["pv.kubernetes.io/bound-by-controller"] == "yes"
    row = kubectl("-n", namespace, "get", "pvc", "data").stdout.splitlines()[1].split()
    assert row[:4] == ["data", "Bound", f"{namespace}-3g", "3Gi"]

    # a selector narrows the choice to the labelled volume
    kubectl("-n", namespace, "create", "-f", "-", input=json.dumps(pvc(
        "gold", "1Gi", cls, selector={"matchLabels": {"tier": "gold"}})))
    gold = _wait(lambda: _bound(server, namespace, "gold"))
    assert gold and gold["spec"]["volumeName"] == f"{namespace}-4g-gold"

    # a Block claim only takes a Block volume; nothing fits 50Gi
    kubectl("-n", namespace, "create", "-f", "-", input=json.dumps(pvc(
        "raw", "1Gi", cls, volumeMode="Block")))
    raw = _wait(lambda: _bound(server, namespace, "raw"))
    assert raw and raw["spec"]["volumeName"] == f"{namespace}-2g-block"
    kubectl("-n", namespace, "create", "-f", "-", input=json.dumps(pvc("huge", "50Gi", cls)))
    assert _wait(lambda: ("ProvisioningFailed",
                          "no volume plugin matched name: kubernetes.io/no-provisioner") in
                 _events(kubectl, namespace, "huge"))
    assert _claim(server, namespace, "huge")["status"]["phase"] == "Pending"


def test_a_claim_naming_its_volume_binds_it_or_reports_the_mismatch(
        server, kubectl, namespace, cluster):
    cluster(pv(f"{namespace}-mine", "2Gi", ""))
    cluster(pv(f"{namespace}-tiny", "1Mi", ""))
    kubectl("-n", namespace, "create", "-f", "-", input=json.dumps(pvc(
        "mine", "1Gi", "", volumeName=f"{namespace}-mine")))
    claim = _wait(lambda: _bound(server, namespace, "mine"))
    assert claim, _claim(server, namespace, "mine")
    # the user chose the volume: the claim is not marked bound-by-controller, the volume is
    assert "pv.kubernetes.io/bound-by-controller" not in claim["metadata"]["annotations"]
    assert claim["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"] == "yes"
    volume = _volume(server, f"{namespace}-mine")
    assert volume["metadata"]["annotations"]["pv.kubernetes.io/bound-by-controller"] == "yes"

    kubectl("-n", namespace, "create", "-f", "-", input=json.dumps(pvc(
        "small", "1Gi", "", volumeName=f"{namespace}-tiny")))
    assert _wait(lambda: ("VolumeMismatch",
                          f'Cannot bind to requested volume "{namespace}-tiny": requested PV '
                          "is too small") in _events(kubectl, namespace, "small"))
    assert _claim(server, namespace, "small")["status"]["phase"] == "Pending"

    # no volume and no class
    kubectl("-n", namespace, "create", "-f", "-", input=json.dumps(pvc("none", "7Ti", "")))
    assert _wait(lambda: ("FailedBinding", "no persistent volumes available for this claim "
                          "and no storage class is set") in _events(kubectl, namespace, "none"))


@pytest.mark.parametrize("policy,outcome", [("Retain", "Released"), ("Delete", None),
                                            ("Recycle", "Available")])
def test_deleting_the_claim_reclaims_its_volume_by_policy(server, kubectl, namespace, cluster,
                                                          policy, outcome):
    name = f"{namespace}-{policy.lower()}"
    cluster(pv(name, "1Gi", "", policy=policy))
    kubectl("-n", namespace, "create", "-f", "-", input=json.dumps(pvc(
        "c", "1Gi", "", volumeName=name)))
    assert _wait(lambda: _bound(server, namespace, "c"))
    kubectl("-n", namespace, "delete", "pvc", "c", "--timeout=30s")
    if outcome is None:
        assert _wait(lambda: _volume(server, name) is None), _volume(server, name)
        return
    volume = _wait(lambda: (v := _volume(server, name))["status"]["phase"] == outcome and v)
    assert volume, _volume(server, name)
    if outcome == "Released":
        assert volume["spec"]["claimRef"]["name"] == "c"          # kept for the admin
    else:
        assert "claimRef" not in volume["spec"]
        assert "pv.kubernetes.io/bound-by-controller" not in (
            volume["metadata"].get("annotations") or {})
        events = lambda: {(e["reason"], e["message"]) for e in _get(  # noqa: E731
            server, f"/api/v1/events?fieldSelector=involvedObject.name%3D{name}")["items"]}
        assert _wait(lambda: ("VolumeRecycled", "Volume recycled") in events()), events()


def test_wait_for_first_consumer_binds_once_a_pod_using_the_claim_is_scheduled(
        server, kubectl, namespace, cluster):
    cls = f"late-{namespace}"
    cluster(sc(cls, mode="WaitForFirstConsumer"))
    cluster(pv(f"{namespace}-late", "1Gi", cls))
    kubectl("-n", namespace, "create", "-f", "-", input=json.dumps(pvc("late", "1Gi", cls)))
    assert _wait(lambda: ("WaitForFirstConsumer",
                          "waiting for first consumer to be created before binding") in
                 _events(kubectl, namespace, "late"))
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "user"},
           "spec": {"containers": [{"name": "c", "image": "nginx"}],
                    "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "late"}}]}}
    kubectl("-n", namespace, "create", "-f", "-", input=json.dumps(pod))
    assert _wait(lambda: ("WaitForPodScheduled", "waiting for pod user to be scheduled") in
                 _events(kubectl, namespace, "late"), timeout=30)
    assert _claim(server, namespace, "late")["status"]["phase"] == "Pending"
    status, _, body = server.request(
        "POST", f"/api/v1/namespaces/{namespace}/pods/user/binding",
        body={"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "user"},
              "target": {"apiVersion": "v1", "kind": "Node", "name": "node-a"}})
    assert status == 201, body
    claim = _wait(lambda: _bound(server, namespace, "late"))
    assert claim and claim["spec"]["volumeName"] == f"{namespace}-late"

    # the scheduler's selected-node annotation also ends the wait
    cluster(pv(f"{namespace}-picked", "1Gi", cls))
    body = pvc("picked", "1Gi", cls)
    body["metadata"]["annotations"] = {"volume.kubernetes.io/selected-node": "node-a"}
    kubectl("-n", namespace, "create", "-f", "-", input=json.dumps(body))
    claim = _wait(lambda: _bound(server, namespace, "picked"))
    assert claim and claim["spec"]["volumeName"] == f"{namespace}-picked"


@pytest.fixture
def hostpath_manager(server):
    """A second controller manager running only this binder, with the hostPath provisioner
    on (``up``'s own manager keeps it off, as upstream's default)."""
    with controller_manager(server, "--controllers", "persistentvolume-binder",
                            "--enable-hostpath-provisioner", "--pvclaimbinder-sync-period", "2",
                            log_name="hostpath-manager.log") as proc:
        yield proc


def test_the_hostpath_provisioner_makes_binds_and_deletes_a_volume(
        server, kubectl, namespace, cluster, hostpath_manager):
    import os
    cls = f"hp-{namespace}"
    cluster(sc(cls, provisioner="kubernetes.io/host-path"))
    kubectl("-n", namespace, "create", "-f", "-", input=json.dumps(pvc("scratch", "1Gi", cls)))
    claim = _wait(lambda: _bound(server, namespace, "scratch"), timeout=30)
    assert claim, (_claim(server, namespace, "scratch"), _events(kubectl, namespace, "scratch"))
    name = f"pvc-{claim['metadata']['uid']}"
    assert claim["spec"]["volumeName"] == name
    ann = claim["metadata"]["annotations"]
    assert ann["volume.kubernetes.io/storage-provisioner"] == "kubernetes.io/host-path"
    assert ann["volume.beta.kubernetes.io/storage-provisioner"] == "kubernetes.io/host-path"
    volume = _volume(server, name)
    assert volume["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"] == \
        "kubernetes.io/host-path"
    assert volume["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
    assert volume["spec"]["capacity"] == {"storage": "1Gi"}
    path = volume["spec"]["hostPath"]["path"]
    assert path.startswith("/tmp/hostpath_pv/") and os.path.isdir(path)
    assert ("ProvisioningSucceeded", f"Successfully provisioned volume {name} using "
            "kubernetes.io/host-path") in _events(kubectl, namespace, "scratch")

    kubectl("-n", namespace, "delete", "pvc", "scratch", "--timeout=30s")
    assert _wait(lambda: _volume(server, name) is None, timeout=30), _volume(server, name)
    assert not os.path.exists(path)
