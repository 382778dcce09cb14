"""Reconciling the bootstrap RBAC policy at every start (the ``rbac/bootstrap-roles``
post-start hook).

Upstream: kubernetes/kubernetes:pkg/registry/rbac/rest/storage_rbac.go (``PostStartHook``,
``ensureRBACPolicy``) and pkg/registry/rbac/reconciliation/reconcile_role.go,
reconcile_rolebindings.go, with ``RemoveExtraPermissions``/``RemoveExtraSubjects`` false:

* a missing object is created;
* an object annotated ``rbac.authorization.kubernetes.io/autoupdate: "false"`` is left alone;
* otherwise the expected labels and annotations are added where the object lacks them (the
  object's own values win), rules it does not cover are appended (broken down, as
  ``validation.Covers`` reports them), missing aggregation selectors are appended and an
  aggregationRule the policy does not expect is dropped; for bindings, missing subjects are
  appended and a changed roleRef (immutable) means delete and create.

Writes go through the Stores with the server's own identity, so they get revisions, change
log rows and watch events like any other write, and they are no-ops when nothing changed.
"""
from __future__ import annotations

import copy
import logging

from apiserver.registry.context import system_context
from apiserver.runtime import errors

from . import bootstrap_policy as policy
from .rules import covers, parse_rules

log = logging.getLogger(__name__)

MANAGER = "kube-apiserver"


def _protected(obj: dict) -> bool:
    return ((obj.get("metadata") or {}).get("annotations") or {}).get(policy.AUTOUPDATE) \
        == "false"


def _merge_meta(result: dict, expected: dict) -> None:
    meta, want = result.setdefault("metadata", {}), expected["metadata"]
    for key in ("labels", "annotations"):
        merged = dict(want.get(key) or {})
        merged.update(meta.get(key) or {})
        if merged:
            meta[key] = merged


def reconciled_role(existing: dict, expected: dict) -> dict:
    """``computeReconciledRole`` (union mode): the object to store for ``existing``."""
    result = copy.deepcopy(existing)
    _merge_meta(result, expected)
    _, missing = covers(parse_rules(existing.get("rules")), parse_rules(expected.get("rules")))
    if missing:
        result["rules"] = list(existing.get("rules") or []) + [r.to_dict() for r in missing]
    want_agg, have_agg = expected.get("aggregationRule"), existing.get("aggregationRule")
    if want_agg is None:
        result.pop("aggregationRule", None)
    else:
        have = list((have_agg or {}).get("clusterRoleSelectors") or [])
        absent = [s for s in want_agg.get("clusterRoleSelectors") or [] if s not in have]
        if absent:
            result["aggregationRule"] = {"clusterRoleSelectors": have + absent}
    return result


def reconciled_binding(existing: dict, expected: dict) -> dict:
    """``computeReconciledRoleBinding`` (union mode), the roleRef taken as it is."""
    result = copy.deepcopy(existing)
    _merge_meta(result, expected)
    have = list(existing.get("subjects") or [])
    absent = [s for s in expected.get("subjects") or [] if s not in have]
    if absent:
        result["subjects"] = have + absent
    return result


def _reconcile(store, namespace, expected: dict, ctx, binding: bool) -> str:
    """Create, update, recreate or leave one object; returns what happened."""
    name = expected["metadata"]["name"]
    try:
        existing, _ = store.load(namespace, name)
    except errors.NotFound:
        existing = None
    if existing is not None and _protected(existing):
        return "protected"
    if existing is not None and binding and existing.get("roleRef") != expected["roleRef"]:
        store.delete(namespace, name, {}, ctx)
        existing = None
    if existing is None:
        try:
            store.create(namespace, copy.deepcopy(expected), ctx)
            return "created"
        except errors.AlreadyExists:      # another server process was first
            existing, _ = store.load(namespace, name)
    merge = reconciled_binding if binding else reconciled_role
    store.guaranteed_update(namespace, name, lambda current: merge(current, expected), ctx)
    return "reconciled"


def ensure_bootstrap_policy(hook) -> dict:
    """The post-start hook: every bootstrap object reconciled; returns counts by outcome.
    Namespaced objects wait for their namespace (the namespaces hook runs first)."""
    stores, ctx = hook.stores, system_context(MANAGER, hook.stores)
    group = policy.GROUP
    plan = [("clusterroles", policy.cluster_roles()),
            ("clusterrolebindings", policy.cluster_role_bindings()),
            ("roles", policy.roles()), ("rolebindings", policy.role_bindings())]
    counts: dict = {}
    for resource, objects in plan:
        store = stores.store(group, "v1", resource)
        binding = resource.endswith("bindings")
        for obj in objects:
            namespace = (obj["metadata"].get("namespace") or None)
            try:
                outcome = _reconcile(store, namespace, obj, ctx, binding)
            except errors.APIError as exc:   # one bad object never stops the others
                log.error("rbac bootstrap: %s %s: %s", resource, obj["metadata"]["name"], exc)
                outcome = "failed"
            counts[outcome] = counts.get(outcome, 0) + 1
    log.info("rbac bootstrap policy: %s", ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    return counts
