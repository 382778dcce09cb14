"""``pods/<name>/eviction``: delete a pod unless that would break its PodDisruptionBudget.

Upstream ``EvictionREST.Create`` (kubernetes/kubernetes:pkg/registry/core/pod/storage/eviction.go):

1. the Eviction's name must be the pod's; its ``deleteOptions`` carry the delete's options
   (a ``dryRun`` in the query and one in the body must agree, ``propagateDryRun``);
2. a pod that is Succeeded, Failed or Pending, or already being deleted, is deleted without
   looking at budgets (``canIgnorePDB``); a running one with its resourceVersion as a
   precondition (``shouldEnforceResourceVersion``);
3. otherwise the budgets of the pod's namespace whose selector matches the pod's labels
   decide: more than one is a 500; with one, an unready pod goes when the budget is healthy
   enough (or its ``unhealthyPodEvictionPolicy`` is ``AlwaysAllow``), else the budget must
   allow a disruption (``checkAndDecrement``: 429 with a ``DisruptionBudget`` cause when it
   does not); the allowed disruption is spent through a status write that records the pod in
   ``status.disruptedPods``;
4. the pod is then deleted as a normal DELETE with those options; the answer is 201 with a
   ``Status`` of ``Success``.

Upstream answers 429 ("still being processed") while a budget's ``status.observedGeneration``
is behind its generation.  The disruption controller (workers/controllers/disruption.py, run
by the controller manager) writes that status; a budget it has not synced yet carries no
``observedGeneration`` at all (create resets status to zeros), and such a budget is judged
on that zero status (``disruptionsAllowed: 0`` refuses) rather than as "still being
processed", so an API server running without a controller manager still answers 429, only
with the other cause.  Once the controller has recorded an ``observedGeneration``, upstream's
check applies unchanged.

Budgets are read through ``ctx.stores`` (``policy/v1 poddisruptionbudgets``).
"""
from __future__ import annotations

import copy
import dataclasses

import orjson

from apiserver.registry.meta import now_rfc3339
from apiserver.registry.strategy import Subresource
from apiserver.runtime import errors
from apiserver.runtime.selectors import label_selector_from_dict

SUCCESS = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
MAX_DISRUPTED_PODS = 2000
MAX_RETRIES = 20
BUDGET_MESSAGE = "Cannot evict pod as it would violate the pod's disruption budget."
MULTIPLE_BUDGETS = ("This pod has more than one PodDisruptionBudget, which the eviction "
                    "subresource does not support.")


class EvictionSubresource(Subresource):
    """``pods/<name>/eviction`` (upstream ``EvictionREST``)."""

    def create(self, ctx, store, namespace, name, body):
        meta = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
        if (meta.get("name") or "") != name:
            raise errors.BadRequest("name in URL does not match name in Eviction object")
        if meta.get("namespace") and namespace and meta["namespace"] != namespace:
            raise errors.BadRequest("the namespace of the provided object does not match the "
                                    "namespace sent on the request")
        options = _delete_options(body, ctx)
        dctx = dataclasses.replace(ctx, dry_run=bool(options.get("dryRun")), warnings=ctx.warnings)
        rv_unset = not (options.get("preconditions") or {}).get("resourceVersion")
        retries = MAX_RETRIES if rv_unset else 1
        for attempt in range(retries):
            pod, rv = store.load(namespace, name)
            if not can_ignore_budgets(pod):
                break
            try:
                opts = options
                if should_enforce_resource_version(pod) and rv_unset:
                    opts = _with_resource_version(options, rv)
                store.delete(namespace, name, opts, dctx)
                return 201, dict(SUCCESS)
            except errors.Conflict:
                if attempt == retries - 1:
                    raise
        budgets = matching_budgets(dctx, pod)
        if len(budgets) > 1:
            raise errors.InternalError(MULTIPLE_BUDGETS)
        update_options, budget_name = False, ""
        if budgets:
            budget = budgets[0]
            budget_name = budget["metadata"]["name"]
            if not pod_ready(pod) and _unhealthy_pod_may_go(budget):
                update_options = True     # an unready pod does not count as healthy
            else:
                _spend_disruption(dctx, budget, name)
        opts = _with_resource_version(options, rv) if update_options else options
        try:
            store.delete(namespace, name, opts, dctx)
        except errors.Conflict:
            if update_options and rv_unset:
                raise still_processing(budget_name) from None
            raise
        return 201, dict(SUCCESS)


EVICTION = EvictionSubresource("eviction", verbs=("create",), kind=("policy", "v1", "Eviction"),
                               schema_name="io.k8s.api.policy.v1.Eviction")


# ---------------------------------------------------------------- pod state

def can_ignore_budgets(pod: dict) -> bool:
    """``canIgnorePDB``: terminal or pending pods, and pods already being deleted."""
    phase = (pod.get("status") or {}).get("phase")
    return phase in ("Succeeded", "Failed", "Pending") or bool(pod["metadata"].get("deletionTimestamp"))


def should_enforce_resource_version(pod: dict) -> bool:
    """``shouldEnforceResourceVersion``: not for terminal pods or pods being deleted."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not pod["metadata"].get("deletionTimestamp")


def pod_ready(pod: dict) -> bool:
    """``podutil.IsPodReady``: a ``Ready`` condition that is ``True``."""
    return any(isinstance(c, dict) and c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


# ---------------------------------------------------------------- budgets

def matching_budgets(ctx, pod: dict) -> list:
    """``getPodDisruptionBudgets``: the namespace's budgets whose selector matches the pod;
    a missing, empty or unparsable selector matches nothing."""
    budgets = ctx.stores.store("policy", "v1", "poddisruptionbudgets")
    if budgets is None:
        return []
    meta = pod["metadata"]
    found = []
    for doc in budgets.list(meta.get("namespace"))["items"]:
        budget = orjson.loads(doc)
        selector = (budget.get("spec") or {}).get("selector")
        try:
            parsed = label_selector_from_dict(selector)
        except errors.APIError:
            continue
        if parsed.empty or not parsed.matches(meta.get("labels") or {}):
            continue
        found.append(budget)
    return found


def _unhealthy_pod_may_go(budget: dict) -> bool:
    """An unready pod is deleted without spending a disruption when the budget says
    ``AlwaysAllow``, or (``IfHealthyBudget``, the default) when it is healthy enough."""
    if (budget.get("spec") or {}).get("unhealthyPodEvictionPolicy") == "AlwaysAllow":
        return True
    status = budget.get("status") or {}
    desired = status.get("desiredHealthy") or 0
    return (status.get("currentHealthy") or 0) >= desired and desired > 0


def _spend_disruption(ctx, budget: dict, pod_name: str) -> None:
    """``checkAndDecrement`` (a dry run checks and writes nothing)."""
    if ctx.dry_run:
        check_budget(budget)
        return
    store = ctx.stores.store("policy", "v1", "poddisruptionbudgets")
    meta = budget["metadata"]

    def spend(current: dict) -> dict:
        check_budget(current)
        status = current.setdefault("status", {})
        status["disruptionsAllowed"] = status["disruptionsAllowed"] - 1
        if status["disruptionsAllowed"] == 0:
            _set_disruption_allowed_false(status)
        disrupted = status.get("disruptedPods")
        if not isinstance(disrupted, dict):
            disrupted = status["disruptedPods"] = {}
        disrupted[pod_name] = now_rfc3339()
        return current
    store.guaranteed_update(meta.get("namespace"), meta["name"], spend, ctx.for_subresource("status"))


def check_budget(budget: dict) -> None:
    """Raise unless ``budget`` allows one more disruption."""
    meta, status = budget["metadata"], budget.get("status") or {}
    name = meta.get("name", "")
    observed = status.get("observedGeneration")
    if observed is not None and observed < (meta.get("generation") or 0):
        raise still_processing(name)
    allowed = status.get("disruptionsAllowed") or 0
    if allowed < 0:
        raise _forbidden(name, "pdb disruptions allowed is negative")
    if len(status.get("disruptedPods") or {}) > MAX_DISRUPTED_PODS:
        raise _forbidden(name, "DisruptedPods map too big - too many evictions not confirmed by "
                               "PDB controller")
    if allowed == 0:
        raise errors.TooManyRequests(BUDGET_MESSAGE, causes=[errors.Cause(
            "DisruptionBudget",
            f"The disruption budget {name} needs {status.get('desiredHealthy') or 0} healthy pods "
            f"and has {status.get('currentHealthy') or 0} currently")])


def still_processing(name: str) -> errors.TooManyRequests:
    """``createTooManyRequestsError``: retry in 10 seconds."""
    return errors.TooManyRequests(BUDGET_MESSAGE, retry_after=10, causes=[errors.Cause(
        "DisruptionBudget", f"The disruption budget {name} is still being processed by the server.")])


def _forbidden(name: str, why: str) -> errors.Forbidden:
    return errors.Forbidden(f'poddisruptionbudget.policy "{name}" is forbidden: {why}',
                            details={"name": name, "group": "policy", "kind": "poddisruptionbudget"})


def _set_disruption_allowed_false(status: dict) -> None:
    """``pdbhelper.UpdateDisruptionAllowedCondition`` for a budget that reached zero
    (``apimeta.SetStatusCondition``: the transition time moves only with the status)."""
    conditions = status.get("conditions")
    if not isinstance(conditions, list):
        conditions = status["conditions"] = []
    wanted = {"type": "DisruptionAllowed", "status": "False", "reason": "InsufficientPods",
              "message": ""}
    if status.get("observedGeneration"):
        wanted["observedGeneration"] = status["observedGeneration"]
    for cond in conditions:
        if isinstance(cond, dict) and cond.get("type") == "DisruptionAllowed":
            if cond.get("status") != "False":
                cond["lastTransitionTime"] = now_rfc3339()
            cond.pop("observedGeneration", None)
            cond.update(wanted)
            return
    conditions.append({**wanted, "lastTransitionTime": now_rfc3339()})


# ---------------------------------------------------------------- options

def _delete_options(body: dict, ctx) -> dict:
    """The Eviction's ``deleteOptions`` with the request's dry-run folded in
    (``propagateDryRun``)."""
    options = body.get("deleteOptions")
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise errors.BadRequest("deleteOptions must be a JSON object")
    options = copy.deepcopy(options)
    inner = list(options.get("dryRun") or [])
    outer = ["All"] if ctx.dry_run else []
    for value in inner:
        if value != "All":
            raise errors.BadRequest(f'Invalid dryRun: "{value}": supported values: "All"')
    if not inner:
        if outer:
            options["dryRun"] = outer
    elif outer and outer != inner:
        raise errors.InternalError("Internal error occurred: Non-matching dry-run options in request "
                                   f"and content: [{' '.join(outer)}] and [{' '.join(inner)}]")
    return options


def _with_resource_version(options: dict, rv) -> dict:
    """``setPreconditionsResourceVersion`` on a copy."""
    out = copy.deepcopy(options)
    pre = out.get("preconditions") if isinstance(out.get("preconditions"), dict) else {}
    out["preconditions"] = {**pre, "resourceVersion": str(rv)}
    return out
