"""storage.k8s.io/v1 VolumeAttachment: status on create, validation, read-only spec, the
/status subresource and the table."""
from __future__ import annotations

from apiserver.registry.context import RequestContext
from resources.storage.volumeattachments import VolumeAttachmentStrategy
from tests.resources.storage.conftest import BASE, MERGE, TABLE, meta, texts

S = VolumeAttachmentStrategy()
PATH = BASE + "/volumeattachments"


def va(name="csi-123", pv="pv-1", **spec):
    source = {"persistentVolumeName": pv} if pv is not None else {}
    obj = {"metadata": meta(name),
           "spec": {"attacher": "ebs.csi.aws.com", "nodeName": "node-a", "source": source, **spec}}
    S.default(obj)
    return obj


def inline(**fields):
    return {"accessModes": ["ReadWriteOnce"],
            "csi": {"driver": "ebs.csi.aws.com", "volumeHandle": "vol-1"}, **fields}


def test_declarations():
    assert (S.plural, S.namespaced, S.subresource_names(), S.allow_unconditional_update) == \
        ("volumeattachments", False, ("status",), False)
    assert [(c.name, c.type, c.format) for c in S.columns] == [
        ("Name", "string", "name"), ("Attacher", "string", "name"), ("PV", "string", ""),
        ("Node", "string", ""), ("Attached", "boolean", ""), ("Age", "string", "")]


def test_create_resets_status():
    obj = va()
    obj["status"] = {"attached": True, "attachmentMetadata": {"a": "b"}}
    S.prepare_for_create(RequestContext(), obj)
    assert obj["status"] == {"attached": False}


def test_validation_messages():
    ctx = RequestContext()
    assert S.validate(ctx, va()) == []
    assert texts(S.validate(ctx, va(pv=None))) == [
        "spec.source: Required value: must specify exactly one of inlineVolumeSpec and "
        "persistentVolumeName"]
    both = va(source={"persistentVolumeName": "pv", "inlineVolumeSpec": inline()})
    assert texts(S.validate(ctx, both)) == [
        "spec.source: Forbidden: must specify exactly one of inlineVolumeSpec and "
        "persistentVolumeName"]
    assert texts(S.validate(ctx, va(pv=""))) == [
        "spec.source.persistentVolumeName: Required value: must specify non empty "
        "persistentVolumeName"]
    assert texts(S.validate(ctx, va(attacher=""))) == ["spec.attacher: Required value"]
    assert texts(S.validate(ctx, va(attacher="x" * 64))) == [
        "spec.attacher: Too long: may not be more than 63 bytes"]
    (node,) = texts(S.validate(ctx, va(nodeName="")))
    assert node.startswith('spec.nodeName: Invalid value: "": a lowercase RFC 1123 subdomain')
    (pv,) = texts(S.validate(ctx, va(pv="PV_1")))
    assert pv.startswith('spec.source.persistentVolumeName: Invalid value: "PV_1": a lowercase')


def test_inline_volume_spec():
    ctx = RequestContext()
    ok = va(pv=None, source={"inlineVolumeSpec": inline()})
    S.default(ok)
    assert ok["spec"]["source"]["inlineVolumeSpec"]["volumeMode"] == "Filesystem"
    assert S.validate(ctx, ok) == []
    bad = va(pv=None, source={"inlineVolumeSpec": inline(
        capacity={"storage": "1Gi"}, accessModes=["ReadWriteOncePod", "ReadOnlyMany"],
        persistentVolumeReclaimPolicy="Delete", nfs={"server": "s", "path": "/"})})
    p = "spec.source.inlineVolumeSpec"
    assert texts(S.validate(ctx, bad)) == [
        f"{p}.capacity: Forbidden: may not be specified in the context of inline volumes",
        f"{p}.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes",
        f"{p}.persistentVolumeReclaimPolicy: Forbidden: may only be Retain in the context of "
        "inline volumes",
        f"{p}.csi: Forbidden: may not specify more than 1 volume type"]
    no_csi = va(pv=None, source={"inlineVolumeSpec": {"accessModes": ["Everything"]}})
    assert texts(S.validate(ctx, no_csi)) == [
        f"{p}.csi: Required value: has to be specified in the context of inline volumes",
        f'{p}.accessModes: Unsupported value: "Everything": supported values: "ReadOnlyMany", '
        '"ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"',
        f"{p}: Required value: must specify a volume type"]


def test_spec_is_read_only_and_status_checked():
    ctx = RequestContext()
    old = va()
    assert texts(S.validate_update(ctx, va(nodeName="node-b"), old)) == [
        'spec: Invalid value: storage.VolumeAttachmentSpec{Attacher:"ebs.csi.aws.com", '
        'Source:storage.VolumeAttachmentSource{PersistentVolumeName:&"pv-1", '
        'InlineVolumeSpec:(*core.PersistentVolumeSpec)(nil)}, NodeName:"node-b"}: '
        "field is immutable"]
    status = va()
    status["status"] = {"attached": False, "attachError": {"message": "x" * 1025}}
    assert texts(S.validate_status_update(ctx, status, old)) == [
        "status.attachError.message: Too long: may not be more than 262144 bytes"]


def test_table_row():
    obj = va()
    obj["status"] = {"attached": True}
    assert S.table_row(obj)[:5] == ["csi-123", "ebs.csi.aws.com", "pv-1", "node-a", True]
    assert S.table_row(va(pv=None))[2] == ""


def test_status_subresource_over_http(client):
    body = {"apiVersion": "storage.k8s.io/v1", "kind": "VolumeAttachment",
            "metadata": {"name": "csi-123"},
            "spec": {"attacher": "ebs.csi.aws.com", "nodeName": "node-a",
                     "source": {"persistentVolumeName": "pv-1"}},
            "status": {"attached": True}}
    created = client.post(PATH, body)
    assert created.status_code == 201, created.json()
    assert created.json()["status"] == {"attached": False}
    # the main resource ignores status changes, /status ignores spec changes
    main = client.patch(PATH + "/csi-123", {"status": {"attached": True}}, MERGE)
    assert main.status_code == 200 and main.json()["status"] == {"attached": False}
    attached = client.patch(PATH + "/csi-123/status",
                            {"status": {"attached": True, "attachmentMetadata": {"dev": "/dev/xvdb"}},
                             "spec": {"nodeName": "node-b"}}, MERGE)
    assert attached.status_code == 200, attached.json()
    assert attached.json()["status"]["attached"] is True
    assert attached.json()["spec"]["nodeName"] == "node-a"
    moved = client.patch(PATH + "/csi-123", {"spec": {"nodeName": "node-b"}}, MERGE)
    assert moved.status_code == 422
    assert moved.json()["details"]["causes"][0]["field"] == "spec"
    row = client.get(PATH + "/csi-123", headers={"accept": TABLE}).json()["rows"][0]
    assert row["cells"][:5] == ["csi-123", "ebs.csi.aws.com", "pv-1", "node-a", True]
