"""What a DELETE asks of the garbage collector: DeleteOptions' propagation fields checked as
upstream, and the orphan / foregroundDeletion finalizer the Store puts on the object before
it goes (kubernetes/apiserver:pkg/registry/generic/registry/store.go
deletionFinalizersForGarbageCollection, shouldOrphanDependents, shouldDeleteDependents).

May import: apiserver.runtime.
"""
from __future__ import annotations

from apiserver.runtime import errors

ORPHAN_FINALIZER = "orphan"
FOREGROUND_FINALIZER = "foregroundDeletion"
PROPAGATION_POLICIES = ("Foreground", "Background", "Orphan")


def validate_delete_options(options: dict) -> None:
    """Upstream ``ValidateDeleteOptions`` (apimachinery pkg/apis/meta/v1/validation): 422 on
    DeleteOptions for both policy fields set or an unknown policy."""
    policy = options.get("propagationPolicy")
    errs = []
    if options.get("orphanDependents") is not None and policy is not None:
        errs.append(errors.invalid("propagationPolicy", policy,
                                   "orphanDependents and deletionPropagation cannot be both set"))
    if policy is not None and policy not in PROPAGATION_POLICIES:
        errs.append(errors.not_supported("propagationPolicy", policy,
                                         [*PROPAGATION_POLICIES, "nil"]))
    if errs:
        raise errors.Invalid.for_object("DeleteOptions", "meta.k8s.io", "", errs)


def _dependents_policy(strategy, meta: dict, options: dict) -> str | None:
    """"Orphan", "Foreground" or None (background or unsupported): what this DELETE asks of
    the garbage collector.  The request's options win, then a GC finalizer the object
    already carries, then the kind's default."""
    default = strategy.default_garbage_collection_policy
    if default == "Unsupported":
        return None
    orphan = options.get("orphanDependents")
    if orphan is not None:
        return "Orphan" if orphan else None
    policy = options.get("propagationPolicy")
    if policy is not None:
        return policy if policy in ("Orphan", "Foreground") else None
    for f in meta.get("finalizers") or ():
        if f == ORPHAN_FINALIZER:
            return "Orphan"
        if f == FOREGROUND_FINALIZER:
            return "Foreground"
    return "Orphan" if default == "OrphanDependents" else None


def gc_finalizers(strategy, meta: dict, options: dict) -> tuple[bool, list]:
    """(changed, finalizers): the object's finalizers with the orphan / foregroundDeletion
    one this DELETE calls for, and whether that differs (as a set) from what it has."""
    current = list(meta.get("finalizers") or [])
    policy = _dependents_policy(strategy, meta, options)
    wanted = [f for f in current if f not in (ORPHAN_FINALIZER, FOREGROUND_FINALIZER)]
    if policy == "Orphan":
        wanted.append(ORPHAN_FINALIZER)
    elif policy == "Foreground":
        wanted.append(FOREGROUND_FINALIZER)
    if set(wanted) == set(current):
        return False, current
    return True, wanted
