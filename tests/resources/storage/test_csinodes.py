"""storage.k8s.io/v1 CSINode: driver validation, long node IDs, immutable entries, table."""
from __future__ import annotations

from apiserver.registry.context import RequestContext
from resources.storage.csinodes import CSINodeStrategy
from tests.resources.storage.conftest import BASE, TABLE, meta, texts

S = CSINodeStrategy()
SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                 "characters, '-' or '.', and must start and end with an alphanumeric character "
                 "(e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?"
                 "(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")


def node(name="node-a", *drivers):
    obj = {"metadata": meta(name), "spec": {"drivers": list(drivers)}}
    S.default(obj)
    return obj


def drv(name="ebs.csi.aws.com", node_id="i-0123", **extra):
    return {"name": name, "nodeID": node_id, **extra}


def test_declarations_and_defaults():
    assert (S.group, S.plural, S.namespaced, S.allow_unconditional_update) == \
        ("storage.k8s.io", "csinodes", False, False)
    assert [(c.name, c.type) for c in S.columns] == [("Name", "string"), ("Drivers", "integer"),
                                                     ("Age", "string")]
    empty = {"metadata": meta("n")}
    S.default(empty)
    assert empty["spec"] == {"drivers": []}


def test_driver_validation():
    ctx = RequestContext()
    assert S.validate(ctx, node("n", drv(topologyKeys=["topology.ebs.csi.aws.com/zone"]))) == []
    assert texts(S.validate(ctx, node("n", drv(name="", node_id="")))) == [
        "spec.drivers[0].name: Required value",
        f'spec.drivers[0].name: Invalid value: "": {SUBDOMAIN_MSG}',
        "spec.drivers[0].nodeID: Required value"]
    assert texts(S.validate(ctx, node("n", drv(name="x" * 64)))) == [
        "spec.drivers[0].name: Too long: may not be more than 63 bytes"]
    assert texts(S.validate(ctx, node("n", drv(), drv(node_id="other")))) == [
        'spec.drivers[1].name: Duplicate value: "ebs.csi.aws.com"']
    assert texts(S.validate(ctx, node("n", drv(node_id="i" * 193)))) == [
        f'spec.drivers[0].nodeID: Invalid value: "{"i" * 193}": must be 192 characters or less']
    assert texts(S.validate(ctx, node("n", drv(allocatable={"count": -1})))) == [
        "spec.drivers[0].allocatable.count: Invalid value: -1: must be greater than or equal to 0"]
    keys = texts(S.validate(ctx, node("n", drv(topologyKeys=["zone", "zone", ""]))))
    assert keys[0] == 'spec.drivers[0]: Duplicate value: "zone"'
    assert keys[1] == "spec.drivers[0]: Required value"
    assert keys[2].startswith('spec.drivers[0]: Invalid value: "": name part must be non-empty')


def test_long_node_id_allowed_on_update_only_when_already_long():
    ctx = RequestContext()
    long_id = "i" * 200
    old_short, old_long = node("n", drv()), node("n", drv(node_id=long_id))
    new = node("n", drv(node_id=long_id))
    assert [e.field for e in S.validate_update(ctx, new, old_short)] == \
        ["spec.drivers[0].nodeID", "spec.drivers"]
    assert S.validate_update(ctx, new, old_long) == []
    too_long = node("n", drv(node_id="i" * 257))
    assert texts(S.validate_update(ctx, too_long, old_long))[0].endswith(
        "must be 256 characters or less")


def test_existing_driver_entries_are_immutable():
    ctx = RequestContext()
    old = node("n", drv(topologyKeys=["zone"]))
    added = node("n", drv(topologyKeys=["zone"]), drv("efs.csi.aws.com"))
    assert S.validate_update(ctx, added, old) == []
    assert S.validate_update(ctx, node("n"), old) == []          # removing a driver is fine
    assert texts(S.validate_update(ctx, node("n", drv(topologyKeys=["region"])), old)) == [
        'spec.drivers: Invalid value: storage.CSINodeDriver{Name:"ebs.csi.aws.com", '
        'NodeID:"i-0123", TopologyKeys:[]string{"region"}, '
        "Allocatable:(*storage.VolumeNodeResources)(nil)}: field is immutable"]


def test_table_over_http(client):
    body = {"apiVersion": "storage.k8s.io/v1", "kind": "CSINode", "metadata": {"name": "node-a"},
            "spec": {"drivers": [drv(), drv("efs.csi.aws.com")]}}
    assert client.post(BASE + "/csinodes", body).status_code == 201
    table = client.get(BASE + "/csinodes/node-a", headers={"accept": TABLE}).json()
    assert table["rows"][0]["cells"][:2] == ["node-a", 2]
    bare = client.post(BASE + "/csinodes", {"apiVersion": "storage.k8s.io/v1", "kind": "CSINode",
                                            "metadata": {"name": "node-b"}})
    assert bare.status_code == 201 and bare.json()["spec"] == {"drivers": []}
