"""Quota evaluators (resources/quota/evaluators.py): usage per kind and scope matching."""
from __future__ import annotations

from fractions import Fraction

from resources.quota.evaluators import missing_constraints, quota_matches, usage


def pod(requests=None, limits=None, **spec):
    res = {}
    if requests:
        res["requests"] = requests
    if limits:
        res["limits"] = limits
    return {"metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "resources": res}], **spec}}


def test_pod_usage_counts_requests_limits_init_and_overhead():
    p = pod({"cpu": "250m", "memory": "64Mi"}, {"cpu": "1"})
    p["spec"]["initContainers"] = [{"name": "i", "resources": {"requests": {"cpu": "2"}}}]
    p["spec"]["overhead"] = {"cpu": "100m"}
    used = usage("pods", "", p)
    assert used["pods"] == used["count/pods"] == 1
    assert used["requests.cpu"] == used["cpu"] == Fraction(21, 10)
    assert used["requests.memory"] == 64 * 2 ** 20
    assert used["limits.cpu"] == Fraction(11, 10)     # overhead counts in limits too


def test_an_init_container_runs_beside_the_sidecars_started_before_it():
    # upstream component-helpers PodRequests: sidecar 1 + init 2 run at once (3 cpu), more
    # than the sidecar beside the regular container (1 + 500m)
    p = pod({"cpu": "500m"})
    p["spec"]["initContainers"] = [
        {"name": "side", "restartPolicy": "Always", "resources": {"requests": {"cpu": "1"}}},
        {"name": "init", "resources": {"requests": {"cpu": "2", "memory": "1Mi"}}}]
    used = usage("pods", "", p)
    assert used["requests.cpu"] == 3
    assert used["requests.memory"] == 2 ** 20
    # an init container before the sidecar runs alone: 2, more than 1 + 500m
    p["spec"]["initContainers"].reverse()
    assert usage("pods", "", p)["requests.cpu"] == 2
    p["spec"]["initContainers"][0]["resources"]["requests"]["cpu"] = "1"
    assert usage("pods", "", p)["requests.cpu"] == Fraction(3, 2)


def test_terminal_pods_use_nothing():
    p = pod({"cpu": "1"})
    p["status"] = {"phase": "Succeeded"}
    assert usage("pods", "", p) == {}


def test_services_claims_and_counts():
    svc = {"spec": {"type": "LoadBalancer", "ports": [{"port": 1}, {"port": 2}]}}
    used = usage("services", "", svc)
    assert used["services"] == 1 and used["services.nodeports"] == 2
    assert used["services.loadbalancers"] == 1
    pvc = {"spec": {"storageClassName": "fast", "resources": {"requests": {"storage": "1Gi"}}}}
    used = usage("persistentvolumeclaims", "", pvc)
    assert used["requests.storage"] == 2 ** 30
    assert used["fast.storageclass.storage.k8s.io/persistentvolumeclaims"] == 1
    assert usage("deployments", "apps", {}) == {"count/deployments.apps": 1}


def test_scopes_and_scope_selector():
    best = pod()
    burst = pod({"cpu": "1"}, activeDeadlineSeconds=5, priorityClassName="high")
    q = {"spec": {"scopes": ["BestEffort"]}}
    assert quota_matches(q, "pods", "", best) and not quota_matches(q, "pods", "", burst)
    assert not quota_matches(q, "configmaps", "", {})
    q = {"spec": {"scopes": ["Terminating", "NotBestEffort"]}}
    assert quota_matches(q, "pods", "", burst) and not quota_matches(q, "pods", "", best)
    sel = {"spec": {"scopeSelector": {"matchExpressions": [
        {"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]}}}
    assert quota_matches(sel, "pods", "", burst) and not quota_matches(sel, "pods", "", best)
    sel["spec"]["scopeSelector"]["matchExpressions"][0]["operator"] = "DoesNotExist"
    assert quota_matches(sel, "pods", "", best)


def test_missing_constraints_names_containers():
    assert missing_constraints(pod({"cpu": "1"}), {"limits.cpu": "2"}) == ["limits.cpu for: c"]
