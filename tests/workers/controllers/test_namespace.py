"""The namespace controller (workers/controllers/namespace.py, namespace_deleter.py,
namespace_conditions.py) against an in-memory API: discovery, deletecollection, the
conditions upstream sets while content remains, the finalize call, and the work queue's
requeue rules.  The real server path is tests/e2e/test_namespace_deletion.py."""
from __future__ import annotations

import asyncio
import copy
import time

import pytest

from apiserver.client import ApiError
from workers.controllers import namespace_deleter as nd
from workers.controllers.namespace import NamespaceController
from workers.controllers.namespace_conditions import CONDITION_TYPES, ConditionUpdater
from workers.controllers.namespace_deleter import (DeletionFailed, NamespacedResourcesDeleter,
                                                   ResourcesRemaining)

ALL = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
CORE = [("pods", True, ALL), ("pods/status", True, ["get", "patch", "update"]),
        ("configmaps", True, ALL), ("namespaces", False, ["create", "delete", "get", "list"]),
        ("namespaces/finalize", False, ["update"]),
        ("bindings", True, ["create"]),                        # no delete: never touched
        ("onebyone", True, ["delete", "get", "list"])]         # no deletecollection
WIDGETS = [("widgets", True, ALL)]


def _error(status: int, message: str) -> ApiError:
    reason = {404: "NotFound", 405: "MethodNotAllowed", 409: "Conflict",
              503: "ServiceUnavailable"}.get(status, "InternalError")
    return ApiError(status, reason, message, {"kind": "Status", "message": message})


class FakeAPI:
    """A server of core/v1 and example.com (v1 preferred, v1beta1 with one more resource):
    objects keyed by collection path; a deletecollection removes what has no finalizer and
    marks the rest; ``fail`` maps a path to the error a GET of it raises."""

    def __init__(self):
        self.groups = {("", "v1"): CORE, ("example.com", "v1"): WIDGETS,
                       ("example.com", "v1beta1"): WIDGETS + [("gadgets", True, ALL)]}
        self.items: dict[str, dict[str, dict]] = {}
        self.namespaces: dict[str, dict] = {}
        self.calls: list[tuple[str, str]] = []
        self.fail: dict[str, ApiError] = {}
        self.conflicts = 0                      # answer that many PUTs with 409 first

    # -- setup -----------------------------------------------------------------------------
    def namespace(self, name, *, deleted=True, finalizers=("kubernetes",), ago=0.0):
        meta = {"name": name, "uid": f"uid-{name}", "resourceVersion": "1"}
        if deleted:
            meta["deletionTimestamp"] = time.strftime(
                "%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - ago))
        self.namespaces[name] = {"apiVersion": "v1", "kind": "Namespace", "metadata": meta,
                                 "spec": {"finalizers": list(finalizers)},
                                 "status": {"phase": "Terminating" if deleted else "Active"}}
        return self.namespaces[name]

    def put(self, collection, name, finalizers=(), **extra):
        obj = {"metadata": {"name": name, "finalizers": list(finalizers)}, **extra}
        self.items.setdefault(collection, {})[name] = obj
        return obj

    def left(self, collection):
        return sorted(self.items.get(collection, {}))

    def verbs(self, method):
        return [p for m, p in self.calls if m == method]

    # -- the client interface ---------------------------------------------------------------
    async def get(self, path, params=None, accept=None):
        # a server without aggregated discovery: it answers the legacy documents whatever
        # the Accept header asks for (client-go falls back to them then)
        self.calls.append(("GET", path))
        if path in self.fail:
            raise self.fail[path]
        if path == "/api":
            return {"kind": "APIVersions", "versions": ["v1"]}
        if path == "/apis":
            return {"kind": "APIGroupList", "groups": [{
                "name": "example.com", "preferredVersion": {"version": "v1"},
                "versions": [{"version": "v1beta1"}, {"version": "v1"}]}]}
        for (group, version), resources in self.groups.items():
            if path == (f"/apis/{group}/{version}" if group else f"/api/{version}"):
                return {"resources": [{"name": n, "namespaced": ns, "verbs": v}
                                      for n, ns, v in resources]}
        if path.startswith("/api/v1/namespaces/") and path.count("/") == 4:
            ns = self.namespaces.get(path.rsplit("/", 1)[1])
            if ns is None:
                raise _error(404, "namespaces not found")
            return copy.deepcopy(ns)
        return {"items": [copy.deepcopy(o) for o in self.items.get(path, {}).values()]}

    async def update(self, path, obj, params=None):
        self.calls.append(("PUT", path))
        if self.conflicts:
            self.conflicts -= 1
            raise _error(409, "the object has been modified")
        name, sub = path.split("/")[4:6]
        ns = self.namespaces[name]
        if sub == "status":
            ns["status"] = copy.deepcopy(obj["status"])
        elif sub == "finalize":
            ns["spec"]["finalizers"] = list(obj["spec"]["finalizers"])
            if not ns["spec"]["finalizers"]:
                del self.namespaces[name]
        return copy.deepcopy(ns)

    async def delete(self, path, options=None, params=None):
        self.calls.append(("DELETE", path))
        assert options == {"propagationPolicy": "Background"}
        collection, names = path, None
        if path not in self.items and path.rsplit("/", 1)[0] in self.items:
            collection, name = path.rsplit("/", 1)
            names = [name]
        for name in list(names or self.items.get(collection, {})):
            obj = self.items[collection][name]
            if obj["metadata"]["finalizers"]:
                obj["metadata"]["deletionTimestamp"] = "now"
            else:
                del self.items[collection][name]
        return {}


PODS, CMS = "/api/v1/namespaces/doomed/pods", "/api/v1/namespaces/doomed/configmaps"
WIDGETS_PATH = "/apis/example.com/v1/namespaces/doomed/widgets"
GADGETS_PATH = "/apis/example.com/v1beta1/namespaces/doomed/gadgets"


def conditions(api, name="doomed"):
    return {c["type"]: (c["status"], c["reason"], c["message"])
            for c in api.namespaces[name]["status"].get("conditions", [])}


def run(coro):
    return asyncio.run(coro)


def test_every_kind_is_deleted_then_the_finalizer_goes():
    api = FakeAPI()
    api.namespace("doomed", finalizers=("kubernetes", "example.com/last"))
    api.put(CMS, "a"), api.put(CMS, "b"), api.put(WIDGETS_PATH, "w"), api.put(GADGETS_PATH, "g")
    api.put("/api/v1/namespaces/doomed/onebyone", "x")
    api.put("/api/v1/namespaces/keep/configmaps", "kept")
    run(NamespacedResourcesDeleter(api).delete("doomed"))
    for path in (CMS, WIDGETS_PATH, GADGETS_PATH, "/api/v1/namespaces/doomed/onebyone"):
        assert api.left(path) == [], path
    assert api.left("/api/v1/namespaces/keep/configmaps") == ["kept"]
    deletes = api.verbs("DELETE")
    # the custom resources at the preferred version; one only served by v1beta1 there
    assert {CMS, WIDGETS_PATH, GADGETS_PATH} <= set(deletes)
    assert "/apis/example.com/v1beta1/namespaces/doomed/widgets" not in api.calls
    # no deletecollection verb: one DELETE per object; no delete verb, or nothing listed:
    # no DELETE at all
    assert "/api/v1/namespaces/doomed/onebyone/x" in deletes
    assert not [p for p in deletes if "bindings" in p or p.endswith(("/pods", "/status"))]
    # every condition said "fine", then only the controller's finalizer was removed
    assert set(conditions(api)) == set(CONDITION_TYPES)
    assert conditions(api)["NamespaceContentRemaining"] == (
        "False", "ContentRemoved", "All content successfully removed")
    assert conditions(api)["NamespaceDeletionDiscoveryFailure"] == (
        "False", "ResourcesDiscovered", "All resources successfully discovered")
    assert api.verbs("PUT")[-1] == "/api/v1/namespaces/doomed/finalize"
    assert api.namespaces["doomed"]["spec"]["finalizers"] == ["example.com/last"]


def test_the_last_finalizer_removes_the_namespace_and_a_gone_one_is_fine():
    api = FakeAPI()
    api.namespace("doomed")
    deleter = NamespacedResourcesDeleter(api)
    run(deleter.delete("doomed"))
    assert "doomed" not in api.namespaces
    api.calls.clear()
    run(deleter.delete("doomed"))                     # 404: nothing to do
    assert api.calls == [("GET", "/api/v1/namespaces/doomed")]


def test_a_namespace_not_being_deleted_is_left_alone():
    api = FakeAPI()
    api.namespace("live", deleted=False)
    api.put("/api/v1/namespaces/live/configmaps", "a")
    run(NamespacedResourcesDeleter(api).delete("live"))
    assert api.calls == [("GET", "/api/v1/namespaces/live")]
    assert api.left("/api/v1/namespaces/live/configmaps") == ["a"]


def test_content_held_by_finalizers_sets_the_conditions_and_waits():
    api = FakeAPI()
    api.namespace("doomed")
    api.put(PODS, "p", ["example.com/hold"], spec={"terminationGracePeriodSeconds": 30})
    api.put(WIDGETS_PATH, "w1", ["example.com/hold"])
    api.put(WIDGETS_PATH, "w2", ["example.com/other"])
    api.put(CMS, "c")
    with pytest.raises(ResourcesRemaining) as exc:
        run(NamespacedResourcesDeleter(api).delete("doomed"))
    # the pod is within its 30 s grace period: that is the estimate
    assert exc.value.estimate == 30
    assert str(exc.value) == ("some content remains in the namespace, estimate 30 seconds "
                              "before it is removed")
    assert api.left(CMS) == []
    c = conditions(api)
    assert c["NamespaceContentRemaining"] == (
        "True", "SomeResourcesRemain",
        "Some resources are remaining: pods. has 1 resource instances, "
        "widgets.example.com has 2 resource instances")
    assert c["NamespaceFinalizersRemaining"] == (
        "True", "SomeFinalizerRemain",
        "Some finalizers are remaining: example.com/hold in 2 resource instances, "
        "example.com/other in 1 resource instances")
    assert c["NamespaceDeletionContentFailure"][0] == "False"
    assert "/api/v1/namespaces/doomed/finalize" not in api.verbs("PUT")
    # the finalizers go: the next pass finishes and the conditions recover
    for path in (PODS, WIDGETS_PATH):
        api.items[path].clear()
    run(NamespacedResourcesDeleter(api).delete("doomed"))
    assert "doomed" not in api.namespaces


def test_the_estimate_is_the_finalizer_default_once_the_grace_period_passed():
    api = FakeAPI()
    api.namespace("doomed", ago=60)
    api.put(PODS, "p", ["example.com/hold"], spec={"terminationGracePeriodSeconds": 30})
    # a finished pod's grace period does not count
    api.put(PODS, "done", ["example.com/hold"], spec={"terminationGracePeriodSeconds": 600},
            status={"phase": "Succeeded"})
    with pytest.raises(ResourcesRemaining) as exc:
        run(NamespacedResourcesDeleter(api).delete("doomed"))
    assert exc.value.estimate == nd.FINALIZER_ESTIMATE_SECONDS == 15


def test_content_left_without_a_finalizer_is_an_error():
    api = FakeAPI()
    api.namespace("doomed")
    api.put(WIDGETS_PATH, "stuck")

    async def ignore(path, options=None, params=None):       # a backend that deletes nothing
        api.calls.append(("DELETE", path))
        return {}
    api.delete = ignore
    with pytest.raises(DeletionFailed) as exc:
        run(NamespacedResourcesDeleter(api).delete("doomed"))
    msg = ("unexpected items still remain in namespace: doomed for gvr: "
           "example.com/v1, Resource=widgets")
    assert str(exc.value) == msg
    c = conditions(api)
    assert c["NamespaceDeletionContentFailure"] == (
        "True", "ContentDeletionFailed", f"Failed to delete all resource types, 1 remaining: {msg}")
    assert c["NamespaceContentRemaining"][1] == "SomeResourcesRemain"
    assert "/api/v1/namespaces/doomed/finalize" not in api.verbs("PUT")


def test_a_group_that_cannot_be_discovered_holds_the_namespace():
    api = FakeAPI()
    api.namespace("doomed")
    api.put(CMS, "c")
    api.fail["/apis/example.com/v1"] = _error(503, "the server is currently unable to handle "
                                                   "the request")
    with pytest.raises(DeletionFailed):
        run(NamespacedResourcesDeleter(api).delete("doomed"))
    assert api.left(CMS) == []                     # what was discovered is deleted anyway
    assert conditions(api)["NamespaceDeletionDiscoveryFailure"] == (
        "True", "DiscoveryFailed",
        "Discovery failed for some groups, 1 failing: unable to retrieve the complete list of "
        "server APIs: example.com/v1: the server is currently unable to handle the request")
    assert "/api/v1/namespaces/doomed/finalize" not in api.verbs("PUT")
    # discovery recovers: the condition says so, and the namespace goes
    del api.fail["/apis/example.com/v1"]
    deleter = NamespacedResourcesDeleter(api)
    asyncio.run(deleter.delete_all_content(api.namespaces["doomed"]))
    assert conditions(api)["NamespaceDeletionDiscoveryFailure"][0] == "False"
    run(deleter.delete("doomed"))
    assert "doomed" not in api.namespaces


def test_a_conflict_on_finalize_is_retried_on_the_newest_namespace():
    api = FakeAPI()
    api.namespace("doomed")
    ConditionUpdater().update(api.namespaces["doomed"])    # all fine already: no status PUT
    api.conflicts = 1
    run(NamespacedResourcesDeleter(api).delete("doomed"))
    assert "doomed" not in api.namespaces
    puts = api.verbs("PUT")
    assert puts == ["/api/v1/namespaces/doomed/finalize"] * 2


def test_a_namespace_replaced_during_retries_is_an_error():
    api = FakeAPI()
    api.namespace("doomed")
    api.conflicts = 10
    deleter = NamespacedResourcesDeleter(api)
    ns = copy.deepcopy(api.namespaces["doomed"])
    api.namespaces["doomed"]["metadata"]["uid"] = "another"
    with pytest.raises(RuntimeError, match="namespace uid has changed across retries"):
        run(deleter._retry_on_conflict(ns, deleter._finalize))


def test_a_namespace_still_active_in_status_is_marked_terminating():
    api = FakeAPI()
    api.namespace("doomed")["status"]["phase"] = "Active"
    run(NamespacedResourcesDeleter(api).delete("doomed"))
    assert api.verbs("PUT")[0] == "/api/v1/namespaces/doomed/status"
    assert "doomed" not in api.namespaces


def test_ordered_deletion_deletes_pods_before_anything_else():
    api = FakeAPI()
    api.namespace("doomed")
    api.put(PODS, "p", ["example.com/hold"])
    api.put(CMS, "c")
    with pytest.raises(ResourcesRemaining):
        run(NamespacedResourcesDeleter(api, ordered=True).delete("doomed"))
    assert api.left(CMS) == ["c"]
    assert api.verbs("DELETE") == [PODS]
    api.items[PODS].clear()
    run(NamespacedResourcesDeleter(api, ordered=True).delete("doomed"))
    assert api.left(CMS) == [] and "doomed" not in api.namespaces


# ---- the controller: queueing and retries -------------------------------------------------
class Informers:
    def __init__(self):
        self.cache = {}

    def add_handler(self, path, fn):
        assert path == "/api/v1/namespaces"
        return self

    def get(self, name, namespace=None):
        return self.cache.get(name)


class ScriptedDeleter:
    def __init__(self, *outcomes):
        self.outcomes, self.calls = list(outcomes), []

    async def delete(self, name):
        self.calls.append(name)
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome


def test_only_deleted_namespaces_are_queued_after_the_grace_period():
    async def scenario():
        c = NamespaceController(FakeAPI(), Informers(), grace_period=0.2)
        c._on_namespace("ADDED", {"metadata": {"name": "live"}}, None)
        c._on_namespace("DELETED", {"metadata": {"name": "gone", "deletionTimestamp": "t"}},
                        None)
        c._on_namespace("MODIFIED", {"metadata": {"name": "doomed", "deletionTimestamp": "t"}},
                        None)
        assert len(c.queue) == 0
        await asyncio.sleep(0.3)
        assert await c.queue.get() == "doomed" and len(c.queue) == 0
    run(scenario())


def test_remaining_content_comes_back_after_half_the_estimate_and_failures_never_drop():
    async def scenario():
        informers = Informers()
        informers.cache["doomed"] = {"metadata": {"name": "doomed"}}
        failures = [_error(500, "boom")] * 20
        deleter = ScriptedDeleter(ResourcesRemaining(30), *failures)
        c = NamespaceController(FakeAPI(), informers, deleter=deleter)
        loop = asyncio.get_running_loop()
        c.queue.add("doomed")
        worker = asyncio.create_task(c._worker())
        await asyncio.sleep(0.05)
        timer = c.queue._timers["doomed"]
        assert 15.5 < timer.when() - loop.time() <= 16          # 30 // 2 + 1
        # the failures: rate-limited, capped at 60 s, and the key is never given up (the
        # test fires each back-off timer itself)
        c.queue.base_delay = 1.0
        for n in range(20):
            c.queue._timers.pop("doomed").cancel()
            c.queue.add("doomed")
            while len(deleter.calls) < n + 2:
                await asyncio.sleep(0.001)
            await asyncio.sleep(0)
            assert c.queue.failures("doomed") == n + 1
        assert 59 < c.queue._timers["doomed"].when() - loop.time() <= 60
        assert len(deleter.calls) == 21
        c.queue.shutdown()
        await worker
    run(scenario())


def test_a_namespace_gone_from_the_cache_is_not_synced():
    deleter = ScriptedDeleter()
    c = NamespaceController(FakeAPI(), Informers(), deleter=deleter)
    run(c.sync("gone"))
    assert deleter.calls == []


def test_registered_under_upstreams_name_with_upstreams_role():
    from rbac.bootstrap_controllers import CLUSTER_ROLES
    from workers.controllers.manager import CONTROLLERS

    assert "namespace" in CONTROLLERS
    rules, _, _ = CLUSTER_ROLES["system:controller:namespace-controller"]
    assert [(sorted(r["verbs"]), r["apiGroups"], sorted(r["resources"])) for r in rules] == [
        (["delete", "get", "list", "watch"], [""], ["namespaces"]),
        (["update"], [""], ["namespaces/finalize", "namespaces/status"]),
        (["delete", "deletecollection", "get", "list"], ["*"], ["*"])]


def test_a_condition_keeps_its_transition_time_until_its_status_flips():
    ns = {"metadata": {"name": "n"}, "status": {"phase": "Terminating"}}
    first = ConditionUpdater()
    first.content_totals({("", "pods"): 2}, {})
    assert first.update(ns) is True
    remaining = next(c for c in ns["status"]["conditions"]
                     if c["type"] == "NamespaceContentRemaining")
    remaining["lastTransitionTime"] = "2000-01-01T00:00:00Z"
    same = ConditionUpdater()
    same.content_totals({("", "pods"): 2}, {})
    assert same.update(ns) is False                       # nothing to write
    fewer = ConditionUpdater()
    fewer.content_totals({("", "pods"): 1}, {})
    assert fewer.update(ns) is True                       # a new message, the same status
    assert remaining["lastTransitionTime"] == "2000-01-01T00:00:00Z"
    assert remaining["message"] == "Some resources are remaining: pods. has 1 resource instances"
    assert ConditionUpdater().update(ns) is True          # all gone: False, a new time
    assert (remaining["status"], remaining["reason"]) == ("False", "ContentRemoved")
    assert remaining["lastTransitionTime"] != "2000-01-01T00:00:00Z"
    assert [c["type"] for c in ns["status"]["conditions"]] == list(CONDITION_TYPES)


def test_aggregated_discovery_takes_preferred_versions_and_reports_stale_ones():
    """Two documents (/api and /apis as APIGroupDiscoveryList) stand for the legacy walk:
    the first version of a group is its preferred one, a resource only an older version
    serves comes from that version, cluster-scoped resources are left out, and a Stale
    version (an aggregated backend that did not answer) is a discovery failure."""
    from workers.controllers.namespace_deleter import DiscoveryFailed, _from_aggregated

    def res(name, scope="Namespaced"):
        return {"resource": name, "scope": scope, "verbs": ["delete", "deletecollection", "list"]}
    core = {"kind": "APIGroupDiscoveryList", "items": [{"metadata": {}, "versions": [
        {"version": "v1", "resources": [res("pods"), res("nodes", "Cluster")]}]}]}
    apis = {"kind": "APIGroupDiscoveryList", "items": [
        {"metadata": {"name": "example.com"}, "versions": [
            {"version": "v1", "resources": [res("widgets")]},
            {"version": "v1beta1", "resources": [res("widgets"), res("gadgets")]}]},
        {"metadata": {"name": "metrics.k8s.io"}, "versions": [
            {"version": "v1beta1", "freshness": "Stale", "resources": []}]}]}
    resources, failure = _from_aggregated([core, apis])
    got = sorted((r.group, r.version, r.plural) for r in resources)
    assert got == [("", "v1", "pods"), ("example.com", "v1", "widgets"),
                   ("example.com", "v1beta1", "gadgets")]
    assert isinstance(failure, DiscoveryFailed)
    assert "stale GroupVersion discovery: metrics.k8s.io/v1beta1" in str(failure)
