"""The RBAC authorizer: every rule matcher, upstream's reasons, the three subject kinds,
namespace scoping, the index following creates, updates, deletes and compactions through the
real Stores (and its thread: lazy start, local commits, no query per question), rules_for,
and the whole chain in-process with client-certificate users."""
from __future__ import annotations

import time

import orjson
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apiserver.authentication.user import UserInfo
from apiserver.authorization import base
from apiserver.authorization.base import AuthorizationAttributes, Decision, Dependencies
from rbac.authorizer import RBACAuthorizer, rbac_index_of, rbac_mode
from rbac.index import RBACIndex, Subject, applies_to
from rbac.rules import (Rule, api_group_matches, non_resource_url_matches, resource_matches,
                        resource_name_matches, rule_allows, verb_matches)
from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import ASGIClient, in_process_app

G = "rbac.authorization.k8s.io"
BOB = UserInfo("bob", groups=("dev", "system:authenticated"))
SA = UserInfo("system:serviceaccount:ns1:builder",
              groups=("system:serviceaccounts", "system:serviceaccounts:ns1",
                      "system:authenticated"))


def attrs(user, verb, resource="", name="", namespace="", group="", subresource="", path=""):
    if path:
        return AuthorizationAttributes(user=user, verb=verb, is_resource_request=False,
                                       path=path)
    return AuthorizationAttributes(user=user, verb=verb, is_resource_request=True,
                                   namespace=namespace, api_group=group, resource=resource,
                                   subresource=subresource, name=name)


# ---------------------------------------------------------------- matchers

def test_verb_and_group_matchers():
    r = Rule(verbs=("get", "list"), api_groups=("", "apps"))
    assert verb_matches(r, "get") and not verb_matches(r, "delete")
    assert verb_matches(Rule(verbs=("*",)), "escalate")
    assert api_group_matches(r, "") and api_group_matches(r, "apps")
    assert not api_group_matches(r, "batch")
    assert api_group_matches(Rule(api_groups=("*",)), "anything.example.com")


def test_resource_matcher_wildcards_and_subresources():
    pods = Rule(resources=("pods",))
    assert resource_matches(pods, "pods", "")
    assert not resource_matches(pods, "pods/log", "log")        # a subresource is its own
    assert resource_matches(Rule(resources=("pods/log",)), "pods/log", "log")
    assert resource_matches(Rule(resources=("*",)), "pods/exec", "exec")
    star_status = Rule(resources=("*/status",))
    assert resource_matches(star_status, "deployments/status", "status")
    assert not resource_matches(star_status, "deployments", "")
    assert not resource_matches(star_status, "deployments/scale", "scale")
    assert not resource_matches(Rule(resources=("*/stat",)), "pods/status", "status")


def test_resource_name_and_non_resource_url_matchers():
    assert resource_name_matches(Rule(), "") and resource_name_matches(Rule(), "x")
    named = Rule(resource_names=("a", "b"))
    assert resource_name_matches(named, "a") and not resource_name_matches(named, "c")
    assert not resource_name_matches(named, "")                  # list/create carry no name
    urls = Rule(non_resource_urls=("/healthz", "/apis/*"))
    assert non_resource_url_matches(urls, "/healthz")
    assert not non_resource_url_matches(urls, "/healthz/ping")
    assert non_resource_url_matches(urls, "/apis/") and non_resource_url_matches(urls, "/apis/x/y")
    assert not non_resource_url_matches(urls, "/apis")
    assert non_resource_url_matches(Rule(non_resource_urls=("*",)), "/anything")


def test_rule_allows_combines_every_matcher():
    rule = Rule.from_dict({"verbs": ["get"], "apiGroups": [""], "resources": ["pods", "pods/log"],
                           "resourceNames": ["p1"]})
    assert rule_allows(attrs(BOB, "get", "pods", "p1", "ns"), rule)
    assert rule_allows(attrs(BOB, "get", "pods", "p1", "ns", subresource="log"), rule)
    assert not rule_allows(attrs(BOB, "get", "pods", "p2", "ns"), rule)
    assert not rule_allows(attrs(BOB, "list", "pods", "", "ns"), rule)
    assert not rule_allows(attrs(BOB, "get", "pods", "p1", "ns", group="apps"), rule)
    # a resource rule never matches a path, nor a URL rule a resource
    assert not rule_allows(attrs(BOB, "get", path="/pods"), rule)
    urls = Rule.from_dict({"verbs": ["get"], "nonResourceURLs": ["/version"]})
    assert rule_allows(attrs(BOB, "get", path="/version"), urls)
    assert not rule_allows(attrs(BOB, "post", path="/version"), urls)
    assert not rule_allows(attrs(BOB, "get", "version"), urls)


def test_malformed_stored_rules_grant_nothing():
    rule = Rule.from_dict({"verbs": "*", "apiGroups": [None, 3], "resources": {"*": 1}})
    assert rule == Rule()
    assert not rule_allows(attrs(BOB, "get", "pods"), rule)
    assert Rule.from_dict("junk") == Rule()


def test_subjects_apply_as_upstream():
    assert applies_to(BOB, Subject("User", "bob"), "")
    assert not applies_to(BOB, Subject("User", "dev"), "")
    assert applies_to(BOB, Subject("Group", "dev"), "")
    assert not applies_to(BOB, Subject("Group", "bob"), "")
    assert applies_to(SA, Subject("ServiceAccount", "builder", "ns1"), "")
    assert applies_to(SA, Subject("ServiceAccount", "builder"), "ns1")    # binding's namespace
    assert not applies_to(SA, Subject("ServiceAccount", "builder"), "")
    assert not applies_to(SA, Subject("ServiceAccount", "builder", "ns2"), "ns1")
    assert applies_to(SA, Subject("User", SA.name), "")
    assert not applies_to(BOB, Subject("Robot", "bob"), "")


# ---------------------------------------------------------------- over real stores

def role(kind, name, rules, namespace=None, **extra):
    meta = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": f"{G}/v1", "kind": kind, "metadata": meta, "rules": rules, **extra}


def binding(kind, name, role_kind, role_name, subjects, namespace=None):
    meta = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": f"{G}/v1", "kind": kind, "metadata": meta,
            "roleRef": {"apiGroup": G, "kind": role_kind, "name": role_name},
            "subjects": subjects}


def user(name):
    return {"kind": "User", "apiGroup": G, "name": name}


def group(name):
    return {"kind": "Group", "apiGroup": G, "name": name}


READ_PODS = [{"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["pods"]}]


class World:
    def __init__(self, stores, ctx):
        ensure_revision_row()
        self.stores, self.ctx = stores, ctx
        self.s = {p: stores.store(G, "v1", p)
                  for p in ("roles", "clusterroles", "rolebindings", "clusterrolebindings")}

    def create(self, obj):
        plural = obj["kind"].lower() + "s"
        self.s[plural].create(obj["metadata"].get("namespace"), obj, self.ctx)

    def delete(self, plural, name, namespace=None):
        self.s[plural].delete(namespace, name, {}, self.ctx)


@pytest.fixture
def world(stores, ctx):
    return World(stores, ctx)


def decide(a, *args, **kw):
    return a.authorize(attrs(*args, **kw))


def test_cluster_binding_reason(world):
    world.create(role("ClusterRole", "pod-reader", READ_PODS))
    world.create(binding("ClusterRoleBinding", "read-pods", "ClusterRole", "pod-reader",
                         [user("alice"), user("bob")]))
    index = RBACIndex(world.stores, follow=False)
    index.sync()
    a = RBACAuthorizer(index)
    assert decide(a, BOB, "list", "pods", namespace="ns1") == (
        Decision.ALLOW, 'RBAC: allowed by ClusterRoleBinding "read-pods" of ClusterRole '
                        '"pod-reader" to User "bob"')
    assert decide(a, BOB, "list", "pods")[0] is Decision.ALLOW         # cluster-wide too
    # nothing matches: no opinion, empty reason (never a Deny)
    assert decide(a, BOB, "delete", "pods", "p", "ns1") == (Decision.NO_OPINION, "")
    assert decide(a, UserInfo("carol"), "get", "pods", "p", "ns1") == (Decision.NO_OPINION, "")


def test_role_binding_scopes_to_its_namespace(world):
    world.create(role("ClusterRole", "pod-reader", READ_PODS))
    world.create(role("Role", "cm-reader", [{"verbs": ["get"], "apiGroups": [""],
                                             "resources": ["configmaps"]}], "ns1"))
    world.create(binding("RoleBinding", "dev-pods", "ClusterRole", "pod-reader", [group("dev")],
                         "ns1"))
    world.create(binding("RoleBinding", "bob-cm", "Role", "cm-reader", [user("bob")], "ns1"))
    index = RBACIndex(world.stores, follow=False)
    index.sync()
    a = RBACAuthorizer(index)
    assert decide(a, BOB, "get", "pods", "p", "ns1") == (
        Decision.ALLOW, 'RBAC: allowed by RoleBinding "dev-pods/ns1" of ClusterRole '
                        '"pod-reader" to Group "dev"')
    assert decide(a, BOB, "get", "configmaps", "c", "ns1") == (
        Decision.ALLOW, 'RBAC: allowed by RoleBinding "bob-cm/ns1" of Role "cm-reader" to '
                        'User "bob"')
    # a RoleBinding to a ClusterRole grants only in its own namespace
    assert decide(a, BOB, "get", "pods", "p", "ns2")[0] is Decision.NO_OPINION
    assert decide(a, BOB, "list", "pods")[0] is Decision.NO_OPINION
    assert decide(a, UserInfo("eve", groups=("ops",)), "get", "pods", "p", "ns1")[0] \
        is Decision.NO_OPINION


def test_service_account_subjects(world):
    world.create(role("ClusterRole", "pod-reader", READ_PODS))
    world.create(binding("RoleBinding", "local", "ClusterRole", "pod-reader",
                         [{"kind": "ServiceAccount", "name": "builder"}], "ns1"))
    world.create(binding("ClusterRoleBinding", "everywhere", "ClusterRole", "pod-reader",
                         [{"kind": "ServiceAccount", "name": "deployer", "namespace": "ci"}]))
    index = RBACIndex(world.stores, follow=False)
    index.sync()
    a = RBACAuthorizer(index)
    assert decide(a, SA, "get", "pods", "p", "ns1") == (
        Decision.ALLOW, 'RBAC: allowed by RoleBinding "local/ns1" of ClusterRole "pod-reader" '
                        'to ServiceAccount "builder/ns1"')
    assert decide(a, SA, "get", "pods", "p", "ns2")[0] is Decision.NO_OPINION
    deployer = UserInfo("system:serviceaccount:ci:deployer")
    assert decide(a, deployer, "get", "pods", "p", "ns9") == (
        Decision.ALLOW, 'RBAC: allowed by ClusterRoleBinding "everywhere" of ClusterRole '
                        '"pod-reader" to ServiceAccount "deployer/ci"')
    # the same name in another namespace is another account
    assert decide(a, UserInfo("system:serviceaccount:ns1:deployer"), "get", "pods", "p",
                  "ns1")[0] is Decision.NO_OPINION


def test_first_applying_subject_and_binding_order_name_the_reason(world):
    world.create(role("ClusterRole", "pod-reader", READ_PODS))
    world.create(binding("ClusterRoleBinding", "b-second", "ClusterRole", "pod-reader",
                         [user("bob")]))
    world.create(binding("ClusterRoleBinding", "a-first", "ClusterRole", "pod-reader",
                         [user("someone"), group("dev"), user("bob")]))
    index = RBACIndex(world.stores, follow=False)
    index.sync()
    assert decide(RBACAuthorizer(index), BOB, "get", "pods", "p", "ns1")[1] == (
        'RBAC: allowed by ClusterRoleBinding "a-first" of ClusterRole "pod-reader" to '
        'Group "dev"')


def test_missing_roles_are_the_no_opinion_reason(world):
    world.create(binding("ClusterRoleBinding", "dangling", "ClusterRole", "gone", [user("bob")]))
    index = RBACIndex(world.stores, follow=False)
    index.sync()
    a = RBACAuthorizer(index)
    assert decide(a, BOB, "get", "pods", "p", "ns1") == (
        Decision.NO_OPINION, 'RBAC: clusterrole.rbac.authorization.k8s.io "gone" not found')
    world.create(binding("RoleBinding", "dangling-too", "Role", "absent", [user("bob")], "ns1"))
    index.sync()
    assert decide(a, BOB, "get", "pods", "p", "ns1") == (
        Decision.NO_OPINION, 'RBAC: [clusterrole.rbac.authorization.k8s.io "gone" not found, '
                             'role.rbac.authorization.k8s.io "absent" not found]')
    # a rule found later still allows: errors only explain a refusal
    world.create(role("Role", "absent", READ_PODS, "ns1"))
    index.sync()
    assert decide(a, BOB, "get", "pods", "p", "ns1")[0] is Decision.ALLOW


def test_non_resource_urls(world):
    world.create(role("ClusterRole", "discovery", [{"verbs": ["get"],
                                                    "nonResourceURLs": ["/api", "/api/*"]}]))
    world.create(binding("ClusterRoleBinding", "discovery", "ClusterRole", "discovery",
                         [group("system:authenticated")]))
    index = RBACIndex(world.stores, follow=False)
    index.sync()
    a = RBACAuthorizer(index)
    assert decide(a, BOB, "get", path="/api/v1")[0] is Decision.ALLOW
    assert decide(a, BOB, "get", path="/apis")[0] is Decision.NO_OPINION
    assert decide(a, UserInfo("system:anonymous", groups=("system:unauthenticated",)), "get",
                  path="/api")[0] is Decision.NO_OPINION


def test_index_follows_updates_deletes_and_compactions(world):
    world.create(role("Role", "r", READ_PODS, "ns1"))
    world.create(binding("RoleBinding", "rb", "Role", "r", [user("bob")], "ns1"))
    index = RBACIndex(world.stores, follow=False)
    assert index.sync() == 2
    a = RBACAuthorizer(index)
    assert decide(a, BOB, "get", "pods", "p", "ns1")[0] is Decision.ALLOW
    # the role loses pods for configmaps
    store = world.s["roles"]
    current = orjson.loads(store.get("ns1", "r"))
    current["rules"] = [{"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"]}]
    store.update("ns1", "r", current, world.ctx)
    assert index.sync() == 1
    assert decide(a, BOB, "get", "pods", "p", "ns1")[0] is Decision.NO_OPINION
    assert decide(a, BOB, "get", "configmaps", "c", "ns1")[0] is Decision.ALLOW
    # a subject added, then the binding deleted
    rb = orjson.loads(world.s["rolebindings"].get("ns1", "rb"))
    rb["subjects"].append(group("qa"))
    world.s["rolebindings"].update("ns1", "rb", rb, world.ctx)
    index.sync()
    qa = UserInfo("quinn", groups=("qa",))
    assert decide(a, qa, "get", "configmaps", "c", "ns1")[0] is Decision.ALLOW
    world.delete("rolebindings", "rb", "ns1")
    index.sync()
    assert decide(a, BOB, "get", "configmaps", "c", "ns1")[0] is Decision.NO_OPINION
    assert decide(a, qa, "get", "configmaps", "c", "ns1")[0] is Decision.NO_OPINION
    assert index.binding_keys == {}                    # nothing left behind in the index
    # after a compaction the index lists again: what was deleted meanwhile is gone too
    world.create(binding("RoleBinding", "again", "Role", "r", [user("bob")], "ns1"))
    world.delete("roles", "r", "ns1")
    world.create(role("Role", "r2", READ_PODS, "ns1"))
    storage = world.s["roles"].storage
    storage.compact(-10)
    index.sync()
    assert set(index.roles) == {("ns1", "r2")}
    assert decide(a, BOB, "get", "configmaps", "c", "ns1") == (
        Decision.NO_OPINION, 'RBAC: role.rbac.authorization.k8s.io "r" not found')


def test_questions_cost_the_users_bindings_only(world):
    world.create(role("ClusterRole", "pod-reader", READ_PODS))
    for i in range(60):
        world.create(binding("ClusterRoleBinding", f"other-{i}", "ClusterRole", "pod-reader",
                             [user(f"user-{i}")]))
        world.create(binding("RoleBinding", f"other-{i}", "ClusterRole", "pod-reader",
                             [group(f"group-{i}")], "ns1"))
    world.create(binding("RoleBinding", "mine", "ClusterRole", "pod-reader", [user("bob")], "ns1"))
    index = RBACIndex(world.stores, follow=False)
    index.sync()
    assert [g.binding.name for g in index.grants(BOB, "ns1")] == ["mine"]
    a = RBACAuthorizer(index)
    with CaptureQueriesContext(connection) as queries:
        for _ in range(20):
            assert decide(a, BOB, "get", "pods", "p", "ns1")[0] is Decision.ALLOW
            assert decide(a, BOB, "get", "pods", "p", "ns2")[0] is Decision.NO_OPINION
    assert len(queries) == 0


def test_rules_for(world):
    world.create(role("ClusterRole", "mixed", [
        {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["p1"]},
        {"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]))
    world.create(role("Role", "cm", [{"verbs": ["*"], "apiGroups": [""],
                                      "resources": ["configmaps"]}], "ns1"))
    world.create(binding("ClusterRoleBinding", "mixed", "ClusterRole", "mixed", [user("bob")]))
    world.create(binding("RoleBinding", "cm", "Role", "cm", [user("bob")], "ns1"))
    index = RBACIndex(world.stores, follow=False)
    index.sync()
    a = RBACAuthorizer(index)
    assert a.rules_for(BOB, "ns1") == (
        [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["p1"]},
         {"verbs": ["*"], "apiGroups": [""], "resources": ["configmaps"]}],
        [{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}], False)
    assert a.rules_for(BOB, "ns2")[0] == [
        {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["p1"]}]
    assert a.rules_for(UserInfo("carol"), "ns1") == ([], [], False)


def test_the_mode_is_registered(stores):
    assert base.MODES["RBAC"] is rbac_mode
    a = base.MODES["RBAC"](Dependencies(stores=stores))
    assert isinstance(a, RBACAuthorizer) and a.index.stores is stores
    assert a.index.thread is None                       # nothing runs before the first use
    assert a.needs_io(attrs(BOB, "get", "pods"))        # the first questions wait off the loop
    union = base.build(("Node", "RBAC"), Dependencies(stores=stores))
    assert rbac_index_of(union) is union.authorizers[2].index
    assert rbac_index_of(base.build(("AlwaysAllow",))) is None


# ---------------------------------------------------------------- the thread

def wait_for(predicate, timeout=10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.mark.usefixtures("threaded_db")
def test_the_index_starts_on_first_use_and_follows_commits():
    from apiserver.registry.context import system_context
    from tests.conftest import build_server

    completed, _ = build_server()
    world = World(completed.stores, system_context("tests"))
    world.create(role("ClusterRole", "pod-reader", READ_PODS))
    world.create(binding("ClusterRoleBinding", "bob", "ClusterRole", "pod-reader", [user("bob")]))
    index = RBACIndex(completed.stores, poll_seconds=0.2)
    a = RBACAuthorizer(index)
    try:
        assert index.thread is None and not index.ready()
        assert decide(a, BOB, "get", "pods", "p", "ns1")[0] is Decision.ALLOW
        assert index.thread.is_alive() and index.ready()
        assert not a.needs_io(attrs(BOB, "get", "pods"))
        with CaptureQueriesContext(connection) as queries:
            for _ in range(50):
                decide(a, BOB, "get", "pods", "p", "ns1")
        assert len(queries) == 0
        world.delete("clusterrolebindings", "bob")
        assert wait_for(lambda: decide(a, BOB, "get", "pods", "p", "ns1")[0]
                        is Decision.NO_OPINION)
        # wait_until: a commit is applied once the call returns
        world.create(binding("ClusterRoleBinding", "bob2", "ClusterRole", "pod-reader",
                             [user("bob")]))
        assert index.catch_up(5)
        assert decide(a, BOB, "get", "pods", "p", "ns1")[0] is Decision.ALLOW
    finally:
        index.close()
        index.thread.join(5)
    assert not index.thread.is_alive()
    assert index._on_commit not in world.s["roles"].storage.listeners


# ---------------------------------------------------------------- through the chain

BOB_CERT = (("commonName", "bob"), ("organizationName", "dev"))


def test_in_process_requests_as_bob(db):
    index = RBACIndex(None, follow=False)
    authorizer = base.Union([base.SystemMasters(), RBACAuthorizer(index)])
    completed, app = in_process_app(authorizer=authorizer)
    index.stores = completed.stores
    ensure_revision_row()
    admin, bob = ASGIClient(app), ASGIClient(app, subject=BOB_CERT)
    r = bob.get("/api/v1/namespaces/ns1/pods")
    assert r.status_code == 403
    assert r.json()["message"] == ('pods is forbidden: User "bob" cannot list resource "pods" '
                                   'in API group "" in the namespace "ns1"')
    for path, body in ((f"/apis/{G}/v1/clusterroles", role("ClusterRole", "pod-reader", READ_PODS)),
                       (f"/apis/{G}/v1/namespaces/ns1/rolebindings",
                        binding("RoleBinding", "devs", "ClusterRole", "pod-reader",
                                [group("dev")]))):
        assert admin.post(path, body).status_code == 201
    index.sync()
    assert bob.get("/api/v1/namespaces/ns1/pods").status_code == 200
    assert bob.get("/api/v1/namespaces/ns2/pods").status_code == 403
    r = bob.post("/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
                 {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview",
                  "spec": {"namespace": "ns1"}})
    assert r.status_code == 403          # bob may not even ask: nothing grants reviews
