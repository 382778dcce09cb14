"""``pods/<name>/eviction`` through the real handler chain.

Behaviour of kubernetes/kubernetes:pkg/registry/core/pod/storage/eviction.go; cases after its
eviction_test.go (TestEviction, TestEvictionIgnorePDB, TestEvictionDryRun,
TestEvictionPDBStatus): allowed (the budget's disruption is spent and the pod recorded),
blocked (429 with the DisruptionBudget cause), no budget, two budgets (500), pods that skip
the budgets, dry run, unready pods.
"""
from __future__ import annotations

import orjson
import pytest

from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import ASGIClient, in_process_app

NS = "/api/v1/namespaces/default"
PDBS = "/apis/policy/v1/namespaces/default/poddisruptionbudgets"
SUCCESS = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}


@pytest.fixture
def env(db):
    ensure_revision_row()
    completed, app = in_process_app()
    return ASGIClient(app), completed.stores


def make_pod(env, name="web", phase="Running", ready=True, labels=None):
    client, stores = env
    body = {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels if labels is not None else {"app": "web"}},
            "spec": {"nodeName": "n1", "containers": [{"name": "app", "image": "nginx:1.27"}]}}
    assert client.post(f"{NS}/pods", body).status_code == 201
    status = {"phase": phase,
              "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    resp = client.patch(f"{NS}/pods/{name}/status", {"status": status}, "application/merge-patch+json")
    assert resp.status_code == 200, resp.json()


def make_pdb(env, name="web-pdb", status=None, **spec):
    client, _ = env
    body = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "minAvailable": 1, **spec}}
    assert client.post(PDBS, body).status_code == 201
    if status is not None:
        resp = client.patch(f"{PDBS}/{name}/status", {"status": status}, "application/merge-patch+json")
        assert resp.status_code == 200, resp.json()


def evict(env, name="web", query=None, **delete_options):
    client, _ = env
    body = {"apiVersion": "policy/v1", "kind": "Eviction",
            "metadata": {"name": name, "namespace": "default"}}
    if delete_options:
        body["deleteOptions"] = delete_options
    return client.post(f"{NS}/pods/{name}/eviction", body, query=query)


def get(env, path):
    return env[0].get(path)


def test_no_budget_deletes_the_pod(env):
    make_pod(env)
    resp = evict(env, gracePeriodSeconds=0)
    assert (resp.status_code, resp.json()) == (201, SUCCESS)
    assert get(env, f"{NS}/pods/web").status_code == 404


def test_no_budget_graceful_delete_marks_the_pod(env):
    make_pod(env)
    assert evict(env).status_code == 201
    pod = get(env, f"{NS}/pods/web").json()
    assert pod["metadata"]["deletionTimestamp"] and pod["metadata"]["deletionGracePeriodSeconds"] == 30


def test_allowed_spends_a_disruption_and_records_the_pod(env):
    make_pod(env)
    make_pdb(env, status={"disruptionsAllowed": 1, "currentHealthy": 2, "desiredHealthy": 1,
                          "expectedPods": 2, "observedGeneration": 1})
    resp = evict(env, gracePeriodSeconds=0)
    assert (resp.status_code, resp.json()) == (201, SUCCESS)
    assert get(env, f"{NS}/pods/web").status_code == 404
    status = get(env, f"{PDBS}/web-pdb").json()["status"]
    assert status["disruptionsAllowed"] == 0
    assert list(status["disruptedPods"]) == ["web"]
    cond = status["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"], cond["observedGeneration"]) == \
        ("DisruptionAllowed", "False", "InsufficientPods", 1)
    assert cond["lastTransitionTime"]


def test_blocked_by_a_budget_without_status(env):
    make_pod(env)
    make_pdb(env)
    resp = evict(env)
    assert resp.status_code == 429
    assert resp.json() == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "Cannot evict pod as it would violate the pod's disruption budget.",
        "reason": "TooManyRequests", "code": 429,
        "details": {"causes": [{"reason": "DisruptionBudget",
                                "message": "The disruption budget web-pdb needs 0 healthy pods "
                                           "and has 0 currently"}]}}
    assert "deletionTimestamp" not in get(env, f"{NS}/pods/web").json()["metadata"]


def test_blocked_message_names_the_budget_counts(env):
    make_pod(env)
    make_pdb(env, status={"disruptionsAllowed": 0, "currentHealthy": 2, "desiredHealthy": 2,
                          "expectedPods": 2})
    resp = evict(env)
    assert resp.status_code == 429
    assert resp.json()["details"]["causes"] == [{
        "reason": "DisruptionBudget",
        "message": "The disruption budget web-pdb needs 2 healthy pods and has 2 currently"}]


def test_budget_behind_its_generation_is_still_being_processed(env):
    make_pod(env)
    make_pdb(env, status={"disruptionsAllowed": 1, "observedGeneration": 1})
    env[0].patch(f"{PDBS}/web-pdb", {"spec": {"minAvailable": 2}}, "application/merge-patch+json")
    resp = evict(env)
    assert resp.status_code == 429
    assert resp.headers["retry-after"] == "10"
    assert resp.json()["details"]["causes"] == [{
        "reason": "DisruptionBudget",
        "message": "The disruption budget web-pdb is still being processed by the server."}]
    assert resp.json()["details"]["retryAfterSeconds"] == 10


def test_two_budgets_are_a_500(env):
    make_pod(env)
    make_pdb(env, "a", status={"disruptionsAllowed": 1})
    make_pdb(env, "b", status={"disruptionsAllowed": 1})
    resp = evict(env)
    assert resp.status_code == 500
    body = resp.json()
    assert body["status"] == "Failure" and body["code"] == 500
    assert body["message"] == ("This pod has more than one PodDisruptionBudget, which the eviction "
                               "subresource does not support.")
    assert get(env, f"{NS}/pods/web").status_code == 200


def test_budgets_that_do_not_select_the_pod_are_ignored(env):
    make_pod(env, labels={"app": "db"})
    make_pdb(env)                                        # selects app=web, allows nothing
    make_pdb(env, "empty", selector={})                  # an empty selector matches nothing
    assert evict(env, gracePeriodSeconds=0).status_code == 201


@pytest.mark.parametrize("phase", ["Pending", "Succeeded", "Failed"])
def test_pending_and_terminal_pods_skip_budgets(env, phase):
    make_pod(env, phase=phase)
    make_pdb(env)                                        # would block
    assert evict(env, gracePeriodSeconds=0).status_code == 201
    assert get(env, f"{NS}/pods/web").status_code == 404


def test_unready_pod_of_a_healthy_budget_goes_without_spending(env):
    make_pod(env, ready=False)
    make_pdb(env, status={"disruptionsAllowed": 0, "currentHealthy": 2, "desiredHealthy": 2,
                          "expectedPods": 3})
    assert evict(env, gracePeriodSeconds=0).status_code == 201
    assert get(env, f"{PDBS}/web-pdb").json()["status"]["disruptionsAllowed"] == 0


def test_unready_pod_always_allowed_by_policy(env):
    make_pod(env, ready=False)
    make_pdb(env, unhealthyPodEvictionPolicy="AlwaysAllow")
    assert evict(env, gracePeriodSeconds=0).status_code == 201


def test_dry_run_changes_nothing(env):
    make_pod(env)
    make_pdb(env, status={"disruptionsAllowed": 1, "currentHealthy": 1, "desiredHealthy": 1,
                          "expectedPods": 1})
    resp = evict(env, query={"dryRun": "All"}, gracePeriodSeconds=0)
    assert resp.status_code == 201
    assert get(env, f"{NS}/pods/web").status_code == 200
    assert get(env, f"{PDBS}/web-pdb").json()["status"]["disruptionsAllowed"] == 1
    resp = evict(env, dryRun=["All"], gracePeriodSeconds=0)
    assert resp.status_code == 201 and get(env, f"{NS}/pods/web").status_code == 200


def test_name_must_match_and_pod_must_exist(env):
    client, _ = env
    make_pod(env)
    resp = client.post(f"{NS}/pods/web/eviction", {"apiVersion": "policy/v1", "kind": "Eviction",
                                                   "metadata": {"name": "other"}})
    assert (resp.status_code, resp.json()["message"]) == (
        400, "name in URL does not match name in Eviction object")
    resp = evict(env, "ghost")
    assert (resp.status_code, resp.json()["message"]) == (404, 'pods "ghost" not found')


def test_uid_precondition_is_honoured(env):
    make_pod(env)
    resp = evict(env, preconditions={"uid": "not-the-uid"})
    assert resp.status_code == 409
    assert get(env, f"{NS}/pods/web").status_code == 200


def test_get_is_not_allowed_and_discovery_names_the_kind(env):
    client, _ = env
    make_pod(env)
    assert client.get(f"{NS}/pods/web/eviction").status_code == 405
    resources = client.get("/api/v1").json()["resources"]
    entry = next(r for r in resources if r["name"] == "pods/eviction")
    assert (entry.get("group"), entry.get("version"), entry["kind"], entry["verbs"]) == \
        ("policy", "v1", "Eviction", ["create"])
    assert orjson.loads(client.get("/api/v1").content)
