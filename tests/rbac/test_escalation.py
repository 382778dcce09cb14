"""RBAC escalation prevention through the real Stores: roles need every permission they
grant held at their scope (or ``escalate``), bindings the role's permissions (or ``bind`` on
it, limited by resourceNames), aggregationRules full authority, system:masters bypasses,
GC-only updates pass; upstream's messages; the rule comparison (covers, breakdown, compact,
CompactString) on its own; and the checks under AlwaysAllow and without RBAC as a mode."""
from __future__ import annotations

import orjson
import pytest

from apiserver.authentication.user import UserInfo
from apiserver.authorization import base
from apiserver.registry.context import RequestContext
from apiserver.runtime import errors
from rbac.authorizer import RBACAuthorizer
from rbac.escalation import only_gc_fields_change
from rbac.index import RBACIndex
from rbac.rules import Rule, breakdown, compact, compact_string, covers
from tests.apiserver.storage.support import ensure_revision_row

G = "rbac.authorization.k8s.io"
BOB = UserInfo("bob", groups=("dev", "system:authenticated"))
HELD = 'user "bob" (groups=["dev" "system:authenticated"]) is attempting to grant RBAC ' \
       'permissions not currently held:\n'


# ---------------------------------------------------------------- comparing rules

def R(verbs, groups=(), resources=(), names=(), urls=()):
    return Rule(tuple(verbs), tuple(groups), tuple(resources), tuple(names), tuple(urls))


def test_breakdown():
    assert breakdown(R(["get", "list"], [""], ["pods"], ["a", "b"])) == [
        R(["get"], [""], ["pods"], ["a"]), R(["get"], [""], ["pods"], ["b"]),
        R(["list"], [""], ["pods"], ["a"]), R(["list"], [""], ["pods"], ["b"])]
    assert breakdown(R(["get", "post"], urls=["/a"])) == [R(["get"], urls=["/a"]),
                                                         R(["post"], urls=["/a"])]


def test_covers():
    star = [R(["*"], ["*"], ["*"]), R(["*"], urls=["*"])]
    assert covers(star, [R(["escalate"], ["x"], ["y/z"], ["n"]), R(["get"], urls=["/q"])])[0]
    owner = [R(["get", "list"], [""], ["pods", "*/status"]), R(["get"], urls=["/apis/*"])]
    assert covers(owner, [R(["get"], [""], ["pods", "deployments/status"])])[0]
    assert covers(owner, [R(["get"], urls=["/apis/apps"])])[0]
    ok, missing = covers(owner, [R(["get", "delete"], ["", "apps"], ["pods"])])
    assert not ok and missing == [R(["delete"], [""], ["pods"]), R(["get"], ["apps"], ["pods"]),
                                  R(["delete"], ["apps"], ["pods"])]
    # resourceNames: a named owner rule covers those names only, never "all names"
    named = [R(["get"], [""], ["secrets"], ["s1"])]
    assert covers(named, [R(["get"], [""], ["secrets"], ["s1"])])[0]
    assert not covers(named, [R(["get"], [""], ["secrets"])])[0]
    assert not covers(named, [R(["get"], [""], ["secrets"], ["s2"])])[0]
    assert covers([R(["get"], [""], ["secrets"])], [R(["get"], [""], ["secrets"], ["s2"])])[0]
    assert not covers([R(["get"], urls=["/apis"])], [R(["get"], urls=["/apis/x"])])[0]
    assert covers([], [])[0]


def test_compact_and_compact_string():
    missing = covers([], [R(["get", "list"], [""], ["pods", "secrets"]),
                          R(["get"], [""], ["pods"], ["p1"]), R(["get"], urls=["/x"])])[1]
    assert [compact_string(r) for r in compact(missing)] == [
        '{APIGroups:[""], Resources:["pods"], ResourceNames:["p1"], Verbs:["get"]}',
        '{NonResourceURLs:["/x"], Verbs:["get"]}',
        '{APIGroups:[""], Resources:["pods"], Verbs:["get" "list"]}',
        '{APIGroups:[""], Resources:["secrets"], Verbs:["get" "list"]}']
    assert compact_string(Rule()) == "{}"


def test_only_gc_fields_change():
    old = {"metadata": {"name": "r", "resourceVersion": "5", "finalizers": ["a"]},
           "rules": [{"verbs": ["get"]}]}
    new = {"metadata": {"name": "r", "resourceVersion": "5", "ownerReferences": [{"uid": "u"}]},
           "rules": [{"verbs": ["get"]}]}
    assert only_gc_fields_change(new, old)
    assert not only_gc_fields_change({**new, "rules": [{"verbs": ["*"]}]}, old)
    assert not only_gc_fields_change({**new, "metadata": {**new["metadata"],
                                                          "labels": {"a": "b"}}}, old)


# ---------------------------------------------------------------- through the Stores

def role(kind, name, rules, namespace=None, **extra):
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": f"{G}/v1", "kind": kind, "metadata": meta, "rules": rules, **extra}


def binding(kind, name, role_kind, role_name, subjects, namespace=None):
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": f"{G}/v1", "kind": kind, "metadata": meta,
            "roleRef": {"apiGroup": G, "kind": role_kind, "name": role_name},
            "subjects": subjects}


def user(name):
    return {"kind": "User", "apiGroup": G, "name": name}


GET_PODS = [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}]
GET_SECRETS = [{"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"]}]
ALL = [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
       {"verbs": ["*"], "nonResourceURLs": ["*"]}]
WRITE_RBAC = [{"verbs": ["create", "update"], "apiGroups": [G],
               "resources": ["roles", "rolebindings", "clusterroles", "clusterrolebindings"]}]


class World:
    """A server whose authorizer is system:masters + RBAC (an index synced inline)."""

    def __init__(self, modes=None):
        from tests.conftest import build_server

        ensure_revision_row()
        self.index = RBACIndex(None, follow=False)
        authorizer = (base.Union([base.SystemMasters(), RBACAuthorizer(self.index)])
                      if modes is None else base.build(modes))
        completed, _ = build_server(authorizer=authorizer)
        self.index.stores = completed.stores
        self.s = {p: completed.stores.store(G, "v1", p)
                  for p in ("roles", "clusterroles", "rolebindings", "clusterrolebindings")}
        self.admin = RequestContext(user=UserInfo("admin", groups=("system:masters",)),
                                    field_manager="tests")

    def store(self, obj):
        return self.s[obj["kind"].lower() + "s"]

    def admin_create(self, obj):
        return self.store(obj).create(obj["metadata"].get("namespace"), obj, self.admin)

    def create(self, obj, who=BOB, verb="create"):
        ctx = RequestContext(user=who, field_manager="tests", verb=verb,
                             namespace=obj["metadata"].get("namespace", ""))
        return orjson.loads(self.store(obj).create(obj["metadata"].get("namespace"), obj, ctx))

    def update(self, obj, who=BOB):
        ctx = RequestContext(user=who, field_manager="tests", verb="update",
                             namespace=obj["metadata"].get("namespace", ""))
        ns = obj["metadata"].get("namespace")
        return orjson.loads(self.store(obj).update(ns, obj["metadata"]["name"], obj, ctx)[0])

    def grant(self, name, rules, namespace=None, who="bob"):
        """Give ``who`` ``rules`` (a ClusterRole, bound in ``namespace`` or cluster-wide)."""
        self.admin_create(role("ClusterRole", name, rules))
        kind = "RoleBinding" if namespace else "ClusterRoleBinding"
        self.admin_create(binding(kind, name, "ClusterRole", name, [user(who)], namespace))


@pytest.fixture
def world(db):
    return World()


def refused(call, *args, **kw) -> str:
    with pytest.raises(errors.Forbidden) as exc:
        call(*args, **kw)
    assert exc.value.code == 403
    return exc.value.message


def test_a_role_granting_what_bob_lacks_is_refused(world):
    world.grant("rbac-writer", WRITE_RBAC, "ns1")
    message = refused(world.create, role("Role", "r", GET_PODS, "ns1"))
    assert message == ('roles.rbac.authorization.k8s.io "r" is forbidden: ' + HELD
                       + '{APIGroups:[""], Resources:["pods"], Verbs:["get"]}')
    with pytest.raises(errors.Forbidden) as exc:
        world.create(role("Role", "r", GET_PODS, "ns1"))
    assert exc.value.details == {"name": "r", "group": G, "kind": "roles"}
    assert exc.value.to_status()["reason"] == "Forbidden"


def test_a_role_within_bobs_rights_at_the_same_scope(world):
    world.grant("pods-ns1", GET_PODS, "ns1")
    created = world.create(role("Role", "r", GET_PODS, "ns1"))
    assert created["rules"] == GET_PODS
    # the same rules in another namespace, or cluster-wide, are more than he holds
    assert "roles.rbac.authorization.k8s.io \"r\" is forbidden" in refused(
        world.create, role("Role", "r", GET_PODS, "ns2"))
    assert refused(world.create, role("ClusterRole", "cr", GET_PODS)) == (
        'clusterroles.rbac.authorization.k8s.io "cr" is forbidden: ' + HELD
        + '{APIGroups:[""], Resources:["pods"], Verbs:["get"]}')
    # updating it to grant more is refused too; the stored role is unchanged
    created["rules"] = GET_PODS + [{"verbs": ["get", "list"], "apiGroups": [""],
                                    "resources": ["secrets", "pods"]}]
    assert refused(world.update, created).endswith(
        HELD + '{APIGroups:[""], Resources:["pods"], Verbs:["list"]}\n'
        '{APIGroups:[""], Resources:["secrets"], Verbs:["get" "list"]}')
    assert orjson.loads(world.s["roles"].get("ns1", "r"))["rules"] == GET_PODS


def test_the_escalate_verb_allows_more(world):
    world.grant("escalate-roles", [{"verbs": ["escalate"], "apiGroups": [G],
                                    "resources": ["roles"]}], "ns1")
    assert world.create(role("Role", "all", ALL[:1], "ns1"))["rules"] == ALL[:1]
    # only for that resource, in that namespace
    refused(world.create, role("Role", "all", ALL[:1], "ns2"))
    refused(world.create, role("ClusterRole", "all", ALL[:1]))
    # escalate limited by resourceNames applies to updates of that name (a create has none)
    world.grant("escalate-one", [{"verbs": ["escalate"], "apiGroups": [G],
                                  "resources": ["clusterroles"], "resourceNames": ["named"]}])
    refused(world.create, role("ClusterRole", "named", GET_SECRETS))
    world.admin_create(role("ClusterRole", "named", []))
    current = orjson.loads(world.s["clusterroles"].get(None, "named"))
    current["rules"] = GET_SECRETS
    assert world.update(current)["rules"] == GET_SECRETS


def test_aggregation_rules_need_full_authority(world):
    aggregated = {"clusterRoleSelectors": [{"matchLabels": {"aggregate": "true"}}]}
    world.grant("pods", GET_PODS)
    assert refused(world.create, role("ClusterRole", "agg", [], aggregationRule=aggregated)) == (
        'clusterroles.rbac.authorization.k8s.io "agg" is forbidden: must have cluster-admin '
        "privileges to use the aggregationRule")
    # removing the rule from an existing role is checked against the old object
    world.admin_create(role("ClusterRole", "agg", [], aggregationRule=aggregated))
    current = orjson.loads(world.s["clusterroles"].get(None, "agg"))
    current.pop("aggregationRule")
    assert refused(world.update, current).endswith("must have cluster-admin privileges to use "
                                                   "the aggregationRule")
    # with everything, allowed
    world.grant("everything", ALL, who="root")
    root = UserInfo("root")
    assert world.create(role("ClusterRole", "agg2", [], aggregationRule=aggregated),
                        who=root)["aggregationRule"] == aggregated


def test_binding_needs_the_roles_permissions_or_bind(world):
    world.grant("rbac-writer", WRITE_RBAC)
    world.admin_create(role("ClusterRole", "cluster-admin", ALL))
    world.admin_create(role("ClusterRole", "view", GET_PODS))
    rb = binding("RoleBinding", "mine", "ClusterRole", "cluster-admin", [user("bob")], "ns1")
    message = refused(world.create, rb)
    assert message.startswith('rolebindings.rbac.authorization.k8s.io "mine" is forbidden: '
                              + HELD)
    assert '{APIGroups:["*"], Resources:["*"], Verbs:["*"]}' in message
    # upstream compares every rule of the role, non-resource ones too, even in a namespace
    assert message.endswith('{NonResourceURLs:["*"], Verbs:["*"]}')
    crb = binding("ClusterRoleBinding", "mine", "ClusterRole", "cluster-admin", [user("bob")])
    message = refused(world.create, crb)
    assert message.startswith('clusterrolebindings.rbac.authorization.k8s.io "mine" is '
                              'forbidden: ' + HELD)
    assert message.endswith('{NonResourceURLs:["*"], Verbs:["*"]}')
    # bind limited to "view" in ns1
    world.grant("bind-view", [{"verbs": ["bind"], "apiGroups": [G],
                               "resources": ["clusterroles"], "resourceNames": ["view"]}], "ns1")
    view = binding("RoleBinding", "v", "ClusterRole", "view", [user("carol")], "ns1")
    assert world.create(view)["roleRef"]["name"] == "view"
    refused(world.create, binding("RoleBinding", "v", "ClusterRole", "view", [user("c")], "ns2"))
    refused(world.create, rb)
    refused(world.create, binding("ClusterRoleBinding", "v", "ClusterRole", "view",
                                  [user("carol")]))


def test_binding_a_role_bob_holds_and_a_missing_role(world):
    world.grant("rbac-writer", WRITE_RBAC)
    world.grant("pods-ns1", GET_PODS, "ns1")
    world.admin_create(role("Role", "pod-getter", GET_PODS, "ns1"))
    made = world.create(binding("RoleBinding", "share", "Role", "pod-getter", [user("carol")],
                                "ns1"))
    assert made["subjects"][0]["name"] == "carol"
    with pytest.raises(errors.NotFound) as exc:
        world.create(binding("RoleBinding", "x", "ClusterRole", "nope", [user("carol")], "ns1"))
    assert exc.value.message == 'clusterroles.rbac.authorization.k8s.io "nope" not found'
    with pytest.raises(errors.NotFound) as exc:
        world.create(binding("RoleBinding", "x", "Role", "nope", [user("carol")], "ns1"))
    assert exc.value.message == 'roles.rbac.authorization.k8s.io "nope" not found'


def test_resolution_errors_are_reported(world):
    world.grant("rbac-writer", WRITE_RBAC, "ns1")
    world.admin_create(binding("RoleBinding", "dangling", "Role", "gone", [user("bob")], "ns1"))
    assert refused(world.create, role("Role", "r", GET_SECRETS, "ns1")).endswith(
        HELD + '{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}; resolution errors: '
        '[roles.rbac.authorization.k8s.io "gone" not found]')


def test_role_ref_is_immutable_and_gc_only_updates_pass(world):
    world.grant("rbac-writer", WRITE_RBAC)
    world.admin_create(role("ClusterRole", "view", GET_PODS))
    world.admin_create(role("ClusterRole", "edit", GET_SECRETS))
    world.grant("bind-all", [{"verbs": ["bind"], "apiGroups": [G], "resources": ["clusterroles"]}])
    made = world.create(binding("ClusterRoleBinding", "b", "ClusterRole", "view", [user("c")]))
    made["roleRef"]["name"] = "edit"
    with pytest.raises(errors.Invalid) as exc:
        world.update(made)
    assert exc.value.code == 422 and exc.value.message.endswith("cannot change roleRef")
    # a user without any right may still change only finalizers and owner references
    carol = UserInfo("carol")
    stored = orjson.loads(world.s["clusterrolebindings"].get(None, "b"))
    stored["metadata"]["finalizers"] = ["example.com/hold"]
    assert world.update(stored, who=carol)["metadata"]["finalizers"] == ["example.com/hold"]
    stored = orjson.loads(world.s["clusterrolebindings"].get(None, "b"))
    stored["subjects"].append(user("carol"))
    refused(world.update, stored, who=carol)
    world.admin_create(role("ClusterRole", "owned", ALL))
    stored = orjson.loads(world.s["clusterroles"].get(None, "owned"))
    stored["metadata"]["ownerReferences"] = [{"apiVersion": "v1", "kind": "ConfigMap",
                                             "name": "o", "uid": "u-1"}]
    assert world.update(stored, who=carol)["metadata"]["ownerReferences"][0]["uid"] == "u-1"


def test_system_masters_bypass(world):
    root = UserInfo("someone", groups=("system:masters",))
    assert world.create(role("ClusterRole", "all", ALL), who=root)["rules"] == ALL
    assert world.create(binding("ClusterRoleBinding", "all", "ClusterRole", "all",
                                [user("bob")]), who=root)


def test_always_allow_grants_escalate_and_bind(db):
    world = World(modes=("AlwaysAllow",))
    assert world.create(role("ClusterRole", "all", ALL))["rules"] == ALL
    assert world.create(binding("ClusterRoleBinding", "all", "ClusterRole", "all",
                                [user("bob")]))
    assert world.create(binding("RoleBinding", "x", "ClusterRole", "missing", [user("bob")],
                                "ns1"))               # bind allowed: the role is not looked up


def test_without_rbac_as_a_mode_the_stored_roles_still_decide(db):
    world = World(modes=("AlwaysDeny",))
    world.grant("pods-ns1", GET_PODS, "ns1")
    assert world.create(role("Role", "r", GET_PODS, "ns1"))["rules"] == GET_PODS
    assert refused(world.create, role("Role", "s", GET_SECRETS, "ns1")).endswith(
        HELD + '{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}')
