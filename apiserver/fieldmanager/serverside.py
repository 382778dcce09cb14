"""Server-side apply: merge an applied configuration into the live object.

Upstream reference: sigs.k8s.io/structured-merge-diff ``merge/update.go`` (``Updater.Apply``,
``prune``), ``typed/merge.go`` (the merge rules and list ordering) and k8s.io/apimachinery
``pkg/util/managedfields/internal`` (structuredmerge.go, lastappliedupdater.go,
managedfieldsupdater.go) plus ``ValidatePatchOptions`` for the field manager name.

May import: the standard library, :mod:`apiserver.runtime.errors` and this package.
"""
from __future__ import annotations

import copy
import json

from apiserver.openapi import definitions
from apiserver.runtime import errors

from .fieldpath import FieldPathError
from .managed import APPLY, FIELD_MANAGER_MAX_LENGTH, Entry, conflict_error, creation_baseline, \
    decode_managed_fields, identity, reconcile, store, utc_now, without_managed_fields
from .walk import MISSING, STRIPPED, compare, ensure_named_members, fields_of, item_element, \
    json_equal, remove_paths, shape_of, LEAF, MAP

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def validate_field_manager(manager: str | None, *, apply: bool) -> None:
    """Reject a bad ``?fieldManager=`` like upstream ``ValidatePatchOptions`` (422).

    Apply requires one; any manager longer than 128 bytes or containing non-printable
    characters is invalid.  The error is ``PatchOptions.meta.k8s.io "" is invalid: ...``.
    """
    problems = []
    manager = manager or ""
    if apply and not manager:
        problems.append(errors.required("fieldManager", "is required for apply patch"))
    if len(manager.encode()) > FIELD_MANAGER_MAX_LENGTH:
        problems.append(errors.too_long("fieldManager", manager, FIELD_MANAGER_MAX_LENGTH))
    for i, ch in enumerate(manager):
        if not ch.isprintable() and ch != " ":
            problems.append(errors.invalid(
                "fieldManager", manager,
                f"invalid character U+{ord(ch):04X} (at position {i})"))
    if problems:
        texts = [p.error_text() for p in problems]
        joined = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
        raise errors.Invalid(f'PatchOptions.meta.k8s.io "" is invalid: {joined}',
                             details={"group": "meta.k8s.io", "kind": "PatchOptions"},
                             causes=[p.to_cause() for p in problems])


# ---------------------------------------------------------------------------------------------
# Merge
# ---------------------------------------------------------------------------------------------

def _nullable(schema) -> bool:
    node = definitions.resolve(schema) if schema is not None else None
    return bool(node and node.get("nullable"))


def _merge(lhs, rhs, schema, typed: bool):
    if rhs is MISSING:
        return lhs
    if rhs is None:
        if isinstance(lhs, (dict, list)) and lhs:
            shape = shape_of(schema, lhs)
            if shape.kind != LEAF and shape.granular:
                return lhs  # a null granular container keeps the live content, as upstream
        return None
    if lhs is MISSING or lhs is None:
        return copy.deepcopy(rhs)
    ls, rs = shape_of(schema, lhs), shape_of(schema, rhs)
    if ls.kind != rs.kind or rs.kind == LEAF or not rs.granular or (not lhs and not rhs):
        return copy.deepcopy(rhs)
    if rs.kind == MAP:
        out = dict(lhs)
        for name, value in rhs.items():
            child = rs.child_schema(name)
            merged = _merge(lhs.get(name, MISSING), value, child, typed)
            if merged is None and typed and not _nullable(child):
                out.pop(name, None)  # typed objects cannot hold null: the field is unset
            else:
                out[name] = merged
        return out
    return _merge_list(rs, lhs, rhs, typed)


def _merge_list(shape, lhs: list, rhs: list, typed: bool) -> list:
    """Upstream ``visitListItems`` order: live order, but shared items in applied order and
    applied-only items at their applied position."""
    isch = shape.item_schema()
    lpes = [item_element(shape, item, isch) for item in lhs]
    rpes = [item_element(shape, item, isch) for item in rhs]
    lmap: dict = {}
    for pe, item in zip(lpes, lhs):
        lmap[pe] = MISSING if pe in lmap else item  # duplicated live items are not merged
    rmap = dict(zip(rpes, rhs))
    shared = [pe for pe in rpes if pe in lmap]
    out, merged = [], set()
    li = ri = 0
    next_shared = shared.pop(0) if shared else None

    def emit(lval, rval):
        out.append(_merge(lval, rval, isch, typed))

    while li < len(lpes) or ri < len(rpes):
        if li < len(lpes) and ri < len(rpes):
            pe = lpes[li]
            if pe == rpes[ri]:
                merged.add(pe)
                emit(lmap[pe], rmap[pe])
                li += 1
                ri += 1
                next_shared = shared.pop(0) if shared else None
                continue
            if pe in rmap and next_shared is not None and next_shared != pe:
                li += 1
                continue
        if li < len(lpes):
            pe = lpes[li]
            if pe not in rmap:
                out.append(lhs[li])
                li += 1
                continue
            if pe in merged:
                li += 1
        if ri < len(rpes):
            pe = rpes[ri]
            merged.add(pe)
            emit(lmap.get(pe, MISSING), rmap[pe])
            ri += 1
            if next_shared is not None and next_shared == pe:
                next_shared = shared.pop(0) if shared else None
    return out


def merge(live: dict, applied: dict, schema) -> dict:
    """Merge ``applied`` into ``live`` (upstream ``TypedValue.Merge``); neither is mutated.

    Granular maps merge key by key; list-maps merge items by key and sets by value (live
    order, applied items in applied order); scalars and atomic maps/lists are replaced.
    With a schema, an applied ``null`` unsets a non-nullable field.
    """
    return _merge(live, applied, schema, schema is not None)


# ---------------------------------------------------------------------------------------------
# Apply
# ---------------------------------------------------------------------------------------------

def _prune(merged: dict, managers: dict, last_set: set, schema) -> dict:
    """Remove what the applier applied last time, omits now, and nobody else owns."""
    if not last_set:
        return merged
    owned: set = set()
    for entry in managers.values():
        owned |= entry.fields
    candidates = ensure_named_members(last_set, schema) - ensure_named_members(owned, schema)
    return remove_paths(merged, candidates, schema)


def _sync_last_applied(obj: dict, applied: dict) -> None:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    if not annotations.get(LAST_APPLIED):
        return
    config = copy.deepcopy(applied)
    config_annotations = (config.get("metadata") or {}).get("annotations")
    if isinstance(config_annotations, dict):
        config_annotations.pop(LAST_APPLIED, None)
    annotations[LAST_APPLIED] = json.dumps(config, separators=(",", ":"))


def apply(live: dict | None, applied: dict, manager: str, force: bool, api_version: str,
          schema, now: str | None = None, *, subresource: str = "",
          ignored_paths=None) -> dict:
    """Server-side apply ``applied`` over ``live`` (``None``: create) and return the result.

    Contract:

    * ``manager`` is validated like ``?fieldManager=`` (required, <=128 bytes, printable:
      422 ``PatchOptions.meta.k8s.io "" is invalid``); ``applied.apiVersion`` must equal
      ``api_version`` and ``applied.metadata.managedFields`` must be absent (400); list-map
      items without keys or duplicated keys in ``applied`` are a 400.
    * The result is ``live`` merged with ``applied`` (see :func:`merge`), minus every field
      this manager applied last time, omits now, and no manager (this one included) owns.
    * The fields ``applied`` sets (:func:`fields_of`) become the manager's whole ``Apply``
      entry.  Fields changed relative to ``live`` that another manager owns are conflicts:
      409 with ``FieldManagerConflict`` causes unless ``force``, which moves them to the
      applier.  Fields set to the value they already have are shared, not conflicts.
      Fields that disappeared leave every manager; empty managers are dropped.
    * ``metadata.managedFields`` of the result holds the updated entries; the applier's
      ``time`` becomes ``now`` only when the object content changed (or on create).
    * With manager ``kubectl``, an existing non-empty last-applied annotation is rewritten to
      the applied configuration, as upstream does for client-side-apply compatibility.

    ``live`` and ``applied`` are not mutated.  ``ignored_paths`` are never owned.  The
    caller applies kind/name checks, defaulting, validation and status resets afterwards.
    """
    now = now or utc_now()
    validate_field_manager(manager, apply=True)
    if not isinstance(applied, dict):
        raise errors.BadRequest("apply patch must be a JSON object")
    if applied.get("apiVersion") != api_version:
        raise errors.BadRequest(
            "Incorrect version specified in apply patch. Specified patch version: "
            f"{applied.get('apiVersion') or ''}, expected: {api_version}")
    meta = applied.get("metadata")
    if isinstance(meta, dict) and meta.get("managedFields") is not None:
        raise errors.BadRequest("metadata.managedFields must be nil")
    try:
        managers = decode_managed_fields(((live or {}).get("metadata") or {})
                                         .get("managedFields"))
    except ValueError as exc:
        raise errors.InternalError(f"failed to decode managed fields: {exc}") from None

    live_obj = without_managed_fields(live) if live is not None else creation_baseline(schema)
    config = without_managed_fields(applied)
    try:
        applied_set = fields_of(config, schema, allow_duplicates=False) - STRIPPED
        if ignored_paths:
            applied_set = {p for p in applied_set
                           if not any(p[:len(i)] == i for i in ignored_paths)}
        merged = merge(live_obj, config, schema)
    except FieldPathError as exc:
        raise errors.BadRequest(f"failed to create typed patch object: {exc}") from None

    ident = identity(manager, APPLY, api_version, subresource)
    previous = managers.get(ident)
    last_set = previous.fields if previous else set()
    managers[ident] = Entry(manager, APPLY, api_version, subresource, applied_set,
                            previous.time if previous else None)
    merged = _prune(merged, managers, last_set, schema)

    cmp = compare(live_obj, merged, schema).exclude(ignored_paths)
    conflicts = reconcile(managers, cmp, ident)
    if conflicts and not force:
        raise conflict_error(conflicts)
    if not managers[ident].fields:
        del managers[ident]
    elif live is None or not json_equal(live_obj, merged):
        managers[ident].time = now

    result = copy.deepcopy(merged)
    if manager == "kubectl":
        _sync_last_applied(result, config)
    store(result, managers)
    return result


__all__ = ["apply", "merge", "validate_field_manager"]
