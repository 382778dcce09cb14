"""The bootstrap RBAC policy reconciled through the real Stores (upstream's
rbac/bootstrap-roles hook: create what is missing, add what was removed, keep what users
added, leave autoupdate=false objects alone, recreate a binding whose roleRef changed) and the
ClusterRole aggregation controller (admin ⊃ edit ⊃ view, transitively, labelled roles join
and leave)."""
from __future__ import annotations

import threading

import orjson
import pytest

from apiserver.options import Options
from apiserver.server.hooks import HookContext
from rbac import bootstrap_policy as policy
from rbac.aggregation import ClusterRoleAggregationController
from rbac.reconcile import ensure_bootstrap_policy
from resources.bootstrap import ensure_system_namespaces

G = "rbac.authorization.k8s.io"


@pytest.fixture
def hook(stores):
    h = HookContext(stores=stores, options=Options(), stop=threading.Event())
    ensure_system_namespaces(h)
    return h


def _store(stores, resource):
    return stores.store(G, "v1", resource)


def _get(stores, resource, name, namespace=None):
    return _store(stores, resource).load(namespace, name)[0]


def _all_rvs(stores):
    out = {}
    for resource in ("clusterroles", "clusterrolebindings", "roles", "rolebindings"):
        for doc in _store(stores, resource).list(None)["items"]:
            m = orjson.loads(doc)["metadata"]
            out[(resource, m.get("namespace"), m["name"])] = m["resourceVersion"]
    return out


def _grants(role: dict, verb: str, group: str, resource: str) -> bool:
    return any((verb in r.get("verbs", []) or "*" in r.get("verbs", []))
               and group in r.get("apiGroups", []) and resource in r.get("resources", [])
               for r in role.get("rules") or [])


def test_first_start_creates_the_policy_and_a_restart_writes_nothing(stores, hook):
    total = (len(policy.cluster_roles()) + len(policy.cluster_role_bindings())
             + len(policy.roles()) + len(policy.role_bindings()))
    assert ensure_bootstrap_policy(hook) == {"created": total}
    admin = _get(stores, "clusterrolebindings", "cluster-admin")
    assert admin["subjects"] == [{"apiGroup": G, "kind": "Group", "name": "system:masters"}]
    assert admin["metadata"]["labels"] == {"kubernetes.io/bootstrapping": "rbac-defaults"}
    assert admin["metadata"]["annotations"] == {policy.AUTOUPDATE: "true"}
    reader = _get(stores, "rolebindings", "system::extension-apiserver-authentication-reader",
                  "kube-system")
    assert reader["roleRef"]["name"] == "extension-apiserver-authentication-reader"
    before = _all_rvs(stores)
    assert len(before) == total
    assert ensure_bootstrap_policy(hook) == {"reconciled": total}
    assert _all_rvs(stores) == before          # nothing changed: no write, no revision


def test_removed_rules_come_back_and_users_additions_stay(stores, hook, ctx):
    ensure_bootstrap_policy(hook)
    roles = _store(stores, "clusterroles")

    def tamper(role):
        role["rules"] = role["rules"][:1] + [
            {"verbs": ["get"], "apiGroups": ["example.com"], "resources": ["widgets"]}]
        role["metadata"]["labels"]["team"] = "platform"
        return role
    roles.guaranteed_update(None, "system:kube-scheduler", tamper, ctx)
    assert not _grants(_get(stores, "clusterroles", "system:kube-scheduler"),
                       "create", "", "pods/binding")
    ensure_bootstrap_policy(hook)
    role = _get(stores, "clusterroles", "system:kube-scheduler")
    assert _grants(role, "create", "", "pods/binding")
    assert _grants(role, "get", "example.com", "widgets")          # kept (union)
    assert role["metadata"]["labels"]["team"] == "platform"
    assert role["metadata"]["labels"]["kubernetes.io/bootstrapping"] == "rbac-defaults"


def test_autoupdate_false_is_left_alone(stores, hook, ctx):
    ensure_bootstrap_policy(hook)

    def protect(role):
        role["rules"] = [{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]
        role["metadata"]["annotations"][policy.AUTOUPDATE] = "false"
        return role
    _store(stores, "clusterroles").guaranteed_update(None, "system:discovery", protect, ctx)
    counts = ensure_bootstrap_policy(hook)
    assert counts["protected"] == 1
    assert _get(stores, "clusterroles", "system:discovery")["rules"] == [
        {"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]


def test_bindings_regain_subjects_and_a_changed_role_ref_is_recreated(stores, hook, ctx):
    ensure_bootstrap_policy(hook)
    bindings = _store(stores, "clusterrolebindings")

    def swap_subjects(b):
        b["subjects"] = [{"apiGroup": G, "kind": "User", "name": "alice"}]
        return b
    bindings.guaranteed_update(None, "system:public-info-viewer", swap_subjects, ctx)
    bindings.delete(None, "system:basic-user", {}, ctx)
    bindings.create(None, {"metadata": {"name": "system:basic-user"},
                           "roleRef": {"apiGroup": G, "kind": "ClusterRole", "name": "view"},
                           "subjects": [{"apiGroup": G, "kind": "User", "name": "bob"}]}, ctx)
    ensure_bootstrap_policy(hook)
    viewer = _get(stores, "clusterrolebindings", "system:public-info-viewer")
    assert [s["name"] for s in viewer["subjects"]] == [
        "alice", "system:authenticated", "system:unauthenticated"]
    basic = _get(stores, "clusterrolebindings", "system:basic-user")
    assert basic["roleRef"]["name"] == "system:basic-user"
    assert [s["name"] for s in basic["subjects"]] == ["system:authenticated"]


def test_aggregation_fills_admin_edit_view_transitively(stores, hook, ctx):
    ensure_bootstrap_policy(hook)
    controller = ClusterRoleAggregationController(stores)
    assert controller.sync() == 3
    view, edit, admin = (_get(stores, "clusterroles", n) for n in ("view", "edit", "admin"))
    assert _grants(view, "list", "apps", "deployments")
    assert not any("secrets" in r.get("resources", []) for r in view["rules"])
    assert _grants(edit, "list", "apps", "deployments")              # view's, through edit
    assert _grants(edit, "create", "", "secrets")
    assert not _grants(edit, "create", G, "roles")
    assert _grants(admin, "create", G, "roles") and _grants(admin, "list", "apps", "deployments")
    assert controller.sync() == 0                                  # settled: no writes

    # a labelled role joins view, and through it edit and admin, in one pass
    _store(stores, "clusterroles").create(None, {
        "metadata": {"name": "widgets-view",
                     "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
        "rules": [{"verbs": ["get"], "apiGroups": ["example.com"], "resources": ["widgets"]}]},
        ctx)
    assert controller.sync() == 3
    for name in ("view", "edit", "admin"):
        assert _grants(_get(stores, "clusterroles", name), "get", "example.com", "widgets")

    def unlabel(role):
        role["metadata"]["labels"] = {}
        return role
    _store(stores, "clusterroles").guaranteed_update(None, "widgets-view", unlabel, ctx)
    controller.sync()
    for name in ("view", "edit", "admin"):
        assert not _grants(_get(stores, "clusterroles", name), "get", "example.com", "widgets")


def test_every_binding_names_a_role_of_the_policy():
    cluster = {r["metadata"]["name"] for r in policy.cluster_roles()}
    assert {b["roleRef"]["name"] for b in policy.cluster_role_bindings()} <= cluster
    local = {(r["metadata"]["namespace"], r["metadata"]["name"]) for r in policy.roles()}
    assert {(b["metadata"]["namespace"], b["roleRef"]["name"])
            for b in policy.role_bindings()} <= local
