"""OwnerReferencesPermissionEnforcement, against the RBAC authorizer: changing owner
references needs delete on the object; a new blockOwnerDeletion needs update of the
owner's finalizers; unknown owner kinds and pods/status as upstream; upstream's messages."""
from __future__ import annotations

import pytest

from apiserver.admission.base import Attributes
from apiserver.authorization import base
from rbac.authorizer import RBACAuthorizer
from rbac.index import RBACIndex
from resources.admission.owner_references_permission_enforcement import (
    OwnerReferencesPermissionEnforcement, is_changing_owner_reference, new_blocking_refs)
from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import ASGIClient, in_process_app

G = "rbac.authorization.k8s.io"
BOB = (("commonName", "bob"), ("organizationName", "dev"))
CM = "/api/v1/namespaces/ns1/configmaps"
PLUGIN = "OwnerReferencesPermissionEnforcement"


def rule(verbs, resources):
    return {"verbs": verbs, "apiGroups": [""], "resources": resources}


class Cluster:
    """An in-process server with RBAC and the plugin; ``bob`` starts with create, get and
    update of configmaps in ns1, and ``grant`` adds rules."""

    def __init__(self):
        ensure_revision_row()
        self.index = RBACIndex(None, follow=False)
        completed, app = in_process_app(
            admission_plugins=(PLUGIN,),
            authorizer=base.Union([base.SystemMasters(), RBACAuthorizer(self.index)]))
        self.index.stores = completed.stores
        self.admin, self.bob = ASGIClient(app), ASGIClient(app, subject=BOB)
        self.count = 0
        self.grant(rule(["create", "get", "update"], ["configmaps"]))

    def grant(self, *rules):
        self.count += 1
        name = f"r{self.count}"
        assert self.admin.post(f"/apis/{G}/v1/clusterroles", {
            "metadata": {"name": name}, "rules": list(rules)}).status_code == 201
        assert self.admin.post(f"/apis/{G}/v1/namespaces/ns1/rolebindings", {
            "metadata": {"name": name},
            "roleRef": {"apiGroup": G, "kind": "ClusterRole", "name": name},
            "subjects": [{"kind": "Group", "apiGroup": G, "name": "dev"}]}).status_code == 201
        self.index.sync()


@pytest.fixture
def cluster(db):
    c = Cluster()
    c.admin.post("/api/v1/namespaces", {"metadata": {"name": "ns1"}})
    r = c.admin.post(CM, {"metadata": {"name": "owner"}})
    c.owner_uid = r.json()["metadata"]["uid"]
    return c


def ref(cluster, block=None, **extra):
    out = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": cluster.owner_uid}
    if block is not None:
        out["blockOwnerDeletion"] = block
    return {**out, **extra}


def cm(name, *refs):
    meta = {"name": name}
    if refs:
        meta["ownerReferences"] = list(refs)
    return {"metadata": meta}


def test_create_with_owner_reference_needs_no_delete(cluster):
    r = cluster.bob.post(CM, cm("c", ref(cluster)))
    assert r.status_code == 201, r.json()


def test_changing_owner_references_needs_delete(cluster):
    assert cluster.bob.post(CM, cm("c")).status_code == 201
    current = cluster.bob.get(f"{CM}/c").json()
    current["metadata"]["ownerReferences"] = [ref(cluster)]
    r = cluster.bob.put(f"{CM}/c", current)
    assert r.status_code == 403
    assert r.json()["message"] == ('configmaps "c" is forbidden: cannot set an ownerRef on a '
                                   "resource you can't delete: , <nil>")
    assert r.json()["details"] == {"name": "c", "kind": "configmaps"}
    # an update leaving them alone is fine
    current["metadata"]["ownerReferences"] = []
    current["data"] = {"k": "v"}
    assert cluster.bob.put(f"{CM}/c", current).status_code == 200
    cluster.grant(rule(["delete"], ["configmaps"]))
    current = cluster.bob.get(f"{CM}/c").json()
    current["metadata"]["ownerReferences"] = [ref(cluster)]
    assert cluster.bob.put(f"{CM}/c", current).status_code == 200


def test_block_owner_deletion_needs_update_of_the_owners_finalizers(cluster):
    r = cluster.bob.post(CM, cm("c", ref(cluster, block=True)))
    assert r.status_code == 403
    assert r.json()["message"] == (
        'configmaps "c" is forbidden: cannot set blockOwnerDeletion if an ownerReference '
        "refers to a resource you can't set finalizers on: , <nil>")
    # false (or absent) blocks nothing and needs nothing
    assert cluster.bob.post(CM, cm("d", ref(cluster, block=False))).status_code == 201
    # delete of the owner is not what is asked: update of configmaps/finalizers is
    cluster.grant(rule(["delete"], ["configmaps"]))
    assert cluster.bob.post(CM, cm("c", ref(cluster, block=True))).status_code == 403
    cluster.grant(rule(["update"], ["configmaps/finalizers"]))
    assert cluster.bob.post(CM, cm("c", ref(cluster, block=True))).status_code == 201
    # turning blocking on for an existing reference is checked too (bob may now)
    current = cluster.bob.get(f"{CM}/d").json()
    current["metadata"]["ownerReferences"][0]["blockOwnerDeletion"] = True
    assert cluster.bob.put(f"{CM}/d", current).status_code == 200


def test_unknown_owner_kind(cluster):
    r = cluster.bob.post(CM, cm("c", ref(cluster, block=True, apiVersion="example.com/v1",
                                         kind="Widget")))
    assert r.status_code == 403
    assert r.json()["message"] == (
        'configmaps "c" is forbidden: cannot set blockOwnerDeletion in this case because '
        'cannot find RESTMapping for APIVersion example.com/v1 Kind Widget: no matches for '
        'kind "Widget" in version "example.com/v1"')


def test_masters_may_do_anything(cluster):
    assert cluster.admin.post(CM, cm("c", ref(cluster, block=True))).status_code == 201


class Refuser(base.Authorizer):
    """A real (if tiny) authorizer that never allows: the plugin must ask it."""

    def __init__(self):
        self.asked = []

    def authorize(self, attrs):
        self.asked.append(attrs)
        return base.Decision.NO_OPINION, "nobody may"


def attrs(op="UPDATE", obj=None, old=None, resource="pods", subresource=""):
    return Attributes(operation=op, group="", version="v1", kind="Pod", resource=resource,
                      subresource=subresource, namespace="ns1", name="p", obj=obj, old=old)


def test_pods_status_is_left_alone_and_reasons_are_quoted():
    plugin = OwnerReferencesPermissionEnforcement()
    refuser = Refuser()
    plugin.set_authorizer(refuser)
    new = {"metadata": {"ownerReferences": [{"uid": "1", "kind": "Node", "apiVersion": "v1",
                                             "name": "n"}]}}
    plugin.validate(attrs(obj=new, old={"metadata": {}}, subresource="status"))
    assert refuser.asked == []
    with pytest.raises(Exception) as exc:
        plugin.validate(attrs(obj=new, old={"metadata": {}}))
    assert exc.value.message == ('pods "p" is forbidden: cannot set an ownerRef on a resource '
                                 "you can't delete: nobody may, <nil>")
    asked = refuser.asked[0]
    assert (asked.verb, asked.resource, asked.namespace, asked.name) == \
        ("delete", "pods", "ns1", "p")


def test_change_detection():
    a = {"uid": "1", "kind": "K", "name": "n", "apiVersion": "v1"}
    b = {"uid": "2", "kind": "K", "name": "m", "apiVersion": "v1"}
    assert not is_changing_owner_reference({"metadata": {}}, None)
    assert is_changing_owner_reference({"metadata": {"ownerReferences": [a]}}, None)
    assert is_changing_owner_reference({"metadata": {"ownerReferences": [b, a]}},
                                       {"metadata": {"ownerReferences": [a, b]}})
    assert not is_changing_owner_reference(
        {"metadata": {"ownerReferences": [{**a, "controller": None}]}},
        {"metadata": {"ownerReferences": [a]}})
    blocking = {**a, "blockOwnerDeletion": True}
    assert new_blocking_refs({"metadata": {"ownerReferences": [blocking]}},
                             {"metadata": {"ownerReferences": [blocking]}}) == []
    assert new_blocking_refs({"metadata": {"ownerReferences": [blocking]}},
                             {"metadata": {"ownerReferences": [a]}}) == [blocking]
