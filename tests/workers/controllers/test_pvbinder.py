"""The persistentvolume-binder's matching (workers/controllers/pvbinder_util.py) and its
claim/volume syncs against in-memory informers and a recording client."""
from __future__ import annotations

import asyncio

from workers.controllers import pvbinder_util as pu
from workers.controllers.pvbinder import PersistentVolumeBinder
from workers.controllers.pvbinder_volume import sync_volume


def volume(name, size, modes=("ReadWriteOnce",), cls="c", phase="Available", **spec):
    return {"metadata": {"name": name, "resourceVersion": "1", "uid": f"u-{name}",
                         "labels": spec.pop("labels", {})},
            "spec": {"capacity": {"storage": size}, "accessModes": list(modes),
                     "storageClassName": cls, **spec},
            "status": {"phase": phase}}


def claim(name="cl", size="1Gi", modes=("ReadWriteOnce",), cls="c", **spec):
    return {"metadata": {"name": name, "namespace": "ns", "uid": f"u-{name}",
                         "resourceVersion": "1", "annotations": spec.pop("annotations", {})},
            "spec": {"accessModes": list(modes), "storageClassName": cls,
                     "resources": {"requests": {"storage": size}}, **spec},
            "status": {"phase": "Pending"}}


def test_the_fewest_access_modes_group_wins_before_size():
    vols = [volume("rwo-5", "5Gi"), volume("both-2", "2Gi", ("ReadWriteOnce", "ReadOnlyMany")),
            volume("rwo-3", "3Gi"), volume("rwx-1", "1Gi", ("ReadWriteMany",))]
    assert pu.find_best_match(claim(), vols, False)["metadata"]["name"] == "rwo-3"
    ro = claim(modes=("ReadOnlyMany",))
    assert pu.find_best_match(ro, vols, False)["metadata"]["name"] == "both-2"


def test_filters_class_phase_selector_mode_deletion_and_prebinding():
    vols = [volume("other-class", "1Gi", cls="d"), volume("released", "1Gi", phase="Released"),
            volume("gold", "9Gi", labels={"tier": "gold"}), volume("block", "1Gi",
                                                                    volumeMode="Block"),
            volume("going", "1Gi")]
    vols[-1]["metadata"]["deletionTimestamp"] = "2020-01-01T00:00:00Z"
    assert pu.find_best_match(claim(), vols, False)["metadata"]["name"] == "gold"
    assert pu.find_best_match(claim(selector={"matchLabels": {"tier": "silver"}}), vols,
                              False) is None
    # a volume pre-bound to the claim wins even when bigger, delayed or not Available
    pre = volume("pre", "50Gi", phase="Pending", claimRef={"namespace": "ns", "name": "cl"})
    assert pu.find_best_match(claim(), vols + [pre], True)["metadata"]["name"] == "pre"
    # delayed binding without a node takes nothing else
    assert pu.find_best_match(claim(), vols, True) is None


def test_a_known_node_must_satisfy_the_volume_node_affinity():
    affinity = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
        {"key": "zone", "operator": "In", "values": ["a"]}]}]}}
    vols = [volume("local", "1Gi", nodeAffinity=affinity)]
    node_a = {"metadata": {"name": "n1", "labels": {"zone": "a"}}}
    node_b = {"metadata": {"name": "n2", "labels": {"zone": "b"}}}
    assert pu.find_best_match(claim(), vols, True, node_a)["metadata"]["name"] == "local"
    assert pu.find_best_match(claim(), vols, True, node_b) is None


def test_volume_satisfies_claim_messages_and_default_class():
    assert pu.check_volume_satisfies_claim(volume("v", "1Mi"), claim()) == \
        "requested PV is too small"
    assert pu.check_volume_satisfies_claim(volume("v", "2Gi", cls="x"), claim()) == \
        "storageClassName does not match"
    assert pu.check_volume_satisfies_claim(volume("v", "2Gi", volumeMode="Block"), claim()) == \
        "incompatible volumeMode"
    assert pu.check_volume_satisfies_claim(volume("v", "2Gi", ("ReadOnlyMany",)), claim()) == \
        "incompatible accessMode"
    assert pu.check_volume_satisfies_claim(volume("v", "1Gi"), claim()) is None
    mark = {pu.ANN_DEFAULT_CLASS: "true"}
    classes = [{"metadata": {"name": "b", "annotations": mark, "creationTimestamp": "2024"}},
               {"metadata": {"name": "a", "annotations": mark, "creationTimestamp": "2024"}},
               {"metadata": {"name": "old", "annotations": mark, "creationTimestamp": "2020"}},
               {"metadata": {"name": "new", "creationTimestamp": "2025"}}]
    assert pu.default_class(classes)["metadata"]["name"] == "a"


# ---- the controller with fakes -------------------------------------------------------------

class FakeInformer:
    def __init__(self):
        self.cache = {}

    def get(self, name, namespace=None):
        return self.cache.get(f"{namespace}/{name}" if namespace else name)


class FakeInformers:
    def __init__(self):
        self.by_path = {}

    def informer(self, path):
        return self.by_path.setdefault(path, FakeInformer())

    add_handler = lambda self, path, fn: self.informer(path)  # noqa: E731


class FakeClient:
    def __init__(self):
        self.calls, self.rv = [], 10

    async def update(self, path, obj, params=None):
        self.rv += 1
        obj = dict(obj, metadata=dict(obj["metadata"], resourceVersion=str(self.rv)))
        self.calls.append(("PUT", path, obj))
        return obj

    async def delete(self, path, options=None, params=None):
        self.calls.append(("DELETE", path, options))
        return {}

    async def get(self, path, params=None):
        from apiserver.client import ApiError
        raise ApiError(404, "NotFound", "gone")


class FakeRecorder:
    def __init__(self):
        self.events = []

    def record(self, obj, kind, reason, message, *a, **kw):
        self.events.append((obj["metadata"]["name"], reason, message))


def binder():
    inf = FakeInformers()
    b = PersistentVolumeBinder(FakeClient(), inf, FakeRecorder())
    return b, inf.informer("/api/v1/persistentvolumes").cache, \
        inf.informer("/api/v1/persistentvolumeclaims").cache


def test_binding_writes_both_sides_in_upstreams_order():
    b, pvs, pvcs = binder()
    pvs["v"] = volume("v", "2Gi")
    pvcs["ns/cl"] = claim()
    asyncio.run(b.sync("claim:ns/cl"))
    paths = [c[1] for c in b.client.calls]
    assert paths == ["/api/v1/persistentvolumes/v", "/api/v1/persistentvolumes/v/status",
                     "/api/v1/namespaces/ns/persistentvolumeclaims/cl",
                     "/api/v1/namespaces/ns/persistentvolumeclaims/cl/status"]
    pv_body, claim_status = b.client.calls[0][2], b.client.calls[3][2]
    assert pv_body["spec"]["claimRef"]["uid"] == "u-cl"
    assert claim_status["status"] == {"phase": "Bound", "accessModes": ["ReadWriteOnce"],
                                      "capacity": {"storage": "2Gi"}}
    # the overlay keeps the written copies until the informers catch up
    assert b.volume("v")["status"]["phase"] == "Bound"
    assert b.claim("ns", "cl")["spec"]["volumeName"] == "v"


def test_a_lost_volume_makes_a_bound_claim_lost_once_with_an_event():
    b, pvs, pvcs = binder()
    bound = claim(annotations={pu.ANN_BIND_COMPLETED: "yes"}, volumeName="gone")
    bound["status"]["phase"] = "Bound"
    pvcs["ns/cl"] = bound
    asyncio.run(b.sync("claim:ns/cl"))
    assert b.client.calls[-1][2]["status"]["phase"] == "Lost"
    assert b.recorder.events == [("cl", "ClaimLost", "Bound claim has lost its PersistentVolume. "
                                  "Data on the volume is lost!")]


def test_a_released_volume_with_an_unknown_policy_fails_and_recycle_unbinds():
    b, pvs, pvcs = binder()
    ref = {"namespace": "ns", "name": "cl", "uid": "u-old"}
    odd = volume("odd", "1Gi", phase="Bound", claimRef=ref, persistentVolumeReclaimPolicy="Zap")
    asyncio.run(sync_volume(b, odd))
    phases = [c[2]["status"]["phase"] for c in b.client.calls if c[1].endswith("/status")]
    assert phases == ["Released", "Failed"]
    assert b.recorder.events[-1][1] == "VolumeUnknownReclaimPolicy"
    b.client.calls.clear()
    rec = volume("rec", "1Gi", phase="Bound", claimRef=ref, persistentVolumeReclaimPolicy="Recycle")
    rec["metadata"]["annotations"] = {pu.ANN_BOUND_BY_CONTROLLER: "yes"}
    asyncio.run(sync_volume(b, rec))
    spec_write = next(c[2] for c in b.client.calls if c[1] == "/api/v1/persistentvolumes/rec")
    assert "claimRef" not in spec_write["spec"]
    assert b.client.calls[-1][2]["status"]["phase"] == "Available"


def test_provisioning_asks_external_provisioners_and_reports_missing_plugins():
    b, pvs, pvcs = binder()
    classes = b.classes.cache
    classes["ext"] = {"metadata": {"name": "ext"}, "provisioner": "example.com/disk"}
    classes["local"] = {"metadata": {"name": "local"},
                        "provisioner": "kubernetes.io/no-provisioner"}
    classes["hp"] = {"metadata": {"name": "hp"}, "provisioner": "kubernetes.io/host-path"}
    for cls in ("ext", "local", "missing", "hp"):
        pvcs[f"ns/{cls}"] = claim(cls, cls=cls)
        asyncio.run(b.sync(f"claim:ns/{cls}"))
    reasons = {(name, reason): msg for name, reason, msg in b.recorder.events}
    assert reasons[("ext", "ExternalProvisioning")].startswith(
        "Waiting for a volume to be created either by the external provisioner "
        "'example.com/disk' or manually by the system administrator.")
    written = next(c[2] for c in b.client.calls
                   if c[1] == "/api/v1/namespaces/ns/persistentvolumeclaims/ext")
    assert written["metadata"]["annotations"] == {
        pu.ANN_STORAGE_PROVISIONER: "example.com/disk",
        pu.ANN_BETA_STORAGE_PROVISIONER: "example.com/disk"}
    assert reasons[("local", "ProvisioningFailed")] == \
        "no volume plugin matched name: kubernetes.io/no-provisioner"
    assert reasons[("missing", "ProvisioningFailed")] == \
        'storageclass.storage.k8s.io "missing" not found'
    assert reasons[("hp", "ProvisioningFailed")] == ('Failed to create provisioner: provisioning '
                                                    'in volume plugin "kubernetes.io/host-path" '
                                                    "is disabled")
    # the waiting claims stay Pending without an empty status write for the external one
    assert not any(c[1].endswith("/ext/status") for c in b.client.calls)


def test_a_volume_just_bound_is_not_offered_to_the_next_claim_before_the_watch_catches_up():
    b, pvs, pvcs = binder()
    pvs["v"] = volume("v", "2Gi")
    pvcs["ns/a"], pvcs["ns/b"] = claim("a"), claim("b")
    asyncio.run(b.sync("claim:ns/a"))
    b.client.calls.clear()
    asyncio.run(b.sync("claim:ns/b"))        # the informer still shows v Available
    assert not any(c[1].startswith("/api/v1/persistentvolumes") for c in b.client.calls)
    assert b.volume("v")["spec"]["claimRef"]["name"] == "a"
