"""RBAC kinds through the real Store and SQL storage (interim document-store version)."""
from __future__ import annotations

import orjson
import pytest

from apiserver.runtime import errors
from tests.apiserver.storage.support import ensure_revision_row

G = "rbac.authorization.k8s.io"


@pytest.fixture
def rbac(stores):
    ensure_revision_row()
    return {plural: stores.store(G, "v1", plural)
            for plural in ("roles", "rolebindings", "clusterroles", "clusterrolebindings")}


def role(name="r", **extra):
    return {"apiVersion": f"{G}/v1", "kind": "Role", "metadata": {"name": name},
            "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}], **extra}


def test_role_create_get_list(rbac, ctx):
    created = orjson.loads(rbac["roles"].create("default", role("system:reader"), ctx))
    assert created["metadata"]["namespace"] == "default"
    assert created["metadata"]["name"] == "system:reader"      # path-segment names
    got = orjson.loads(rbac["roles"].get("default", "system:reader"))
    assert got["rules"] == role()["rules"]
    page = rbac["roles"].list("default")
    assert len(page["items"]) == 1


def test_invalid_role_is_422(rbac, ctx):
    with pytest.raises(errors.Invalid) as exc:
        rbac["roles"].create("default", role(rules=[{"apiGroups": [""],
                                                     "resources": ["pods"]}]), ctx)
    assert exc.value.message == ('Role.rbac.authorization.k8s.io "r" is invalid: rules[0].verbs: '
                                 "Required value: verbs must contain at least one value")


def test_binding_defaults_stored_and_role_ref_immutable(rbac, ctx):
    body = {"apiVersion": f"{G}/v1", "kind": "RoleBinding", "metadata": {"name": "rb"},
            "roleRef": {"kind": "Role", "name": "r"},
            "subjects": [{"kind": "User", "name": "bob"}]}
    created = orjson.loads(rbac["rolebindings"].create("default", body, ctx))
    assert created["roleRef"] == {"apiGroup": G, "kind": "Role", "name": "r"}
    assert created["subjects"] == [{"kind": "User", "apiGroup": G, "name": "bob"}]

    created["subjects"].append({"kind": "Group", "name": "devs"})
    updated, _ = rbac["rolebindings"].update("default", "rb", created, ctx)
    updated = orjson.loads(updated)
    assert [s["name"] for s in updated["subjects"]] == ["bob", "devs"]

    updated["roleRef"]["name"] = "other"
    with pytest.raises(errors.Invalid) as exc:
        rbac["rolebindings"].update("default", "rb", updated, ctx)
    assert exc.value.code == 422
    assert exc.value.message.endswith("roleRef: Invalid value: rbac.RoleRef{APIGroup:"
                                      '"rbac.authorization.k8s.io", Kind:"Role", Name:"other"}: '
                                      "cannot change roleRef")


def test_cluster_scoped_kinds(rbac, ctx):
    cr = {"apiVersion": f"{G}/v1", "kind": "ClusterRole", "metadata": {"name": "cr"},
          "rules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]}
    created = orjson.loads(rbac["clusterroles"].create(None, cr, ctx))
    assert "namespace" not in created["metadata"]
    crb = {"apiVersion": f"{G}/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "crb"},
           "roleRef": {"apiGroup": G, "kind": "ClusterRole", "name": "cr"},
           "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": "default"}]}
    created = orjson.loads(rbac["clusterrolebindings"].create(None, crb, ctx))
    assert "apiGroup" not in created["subjects"][0]
    with pytest.raises(errors.Invalid, match='supported values: "ClusterRole"'):
        rbac["clusterrolebindings"].create(None, {**crb, "metadata": {"name": "bad"},
                                                  "roleRef": {**crb["roleRef"], "kind": "Role"}},
                                           ctx)
