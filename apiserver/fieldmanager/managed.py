"""``metadata.managedFields`` entries and ownership tracking for non-apply writes.

Upstream reference: k8s.io/apimachinery ``pkg/util/managedfields/internal`` (managedfields.go,
fieldmanager.go, buildmanagerinfo.go, managedfieldsupdater.go, capmanagers.go, stripmeta.go,
conflict.go) and sigs.k8s.io/structured-merge-diff ``merge/update.go``.

Managers are keyed by an *identity* ``(manager, operation, apiVersion, subresource)``; as
upstream, an ``Apply`` identity has an empty apiVersion (an applier keeps one entry across
versions) while an ``Update`` identity includes it.

May import: the standard library, :mod:`apiserver.runtime.errors` and this package.
"""
from __future__ import annotations

import copy
import datetime
import json

from apiserver.openapi import definitions
from apiserver.runtime import errors

from .fieldpath import FieldPathError, from_fields_v1, go_quote, path_order, path_string, \
    to_fields_v1
from .walk import STRIPPED, compare, fields_of

APPLY, UPDATE = "Apply", "Update"
MAX_UPDATE_MANAGERS = 10  # upstream DefaultMaxUpdateManagers
ANCIENT_CHANGES = "ancient-changes"
FIELD_MANAGER_MAX_LENGTH = 128


class Entry:
    """One manager's ownership: its field set, the apiVersion it used and the time."""

    __slots__ = ("manager", "operation", "api_version", "subresource", "fields", "time")

    def __init__(self, manager, operation, api_version, subresource, fields, time=None):
        self.manager, self.operation, self.api_version = manager, operation, api_version
        self.subresource, self.fields, self.time = subresource, set(fields), time

    @property
    def identity(self) -> tuple:
        return identity(self.manager, self.operation, self.api_version, self.subresource)


def identity(manager: str, operation: str, api_version: str, subresource: str = "") -> tuple:
    """The key upstream ``BuildManagerIdentifier`` derives (no apiVersion for appliers)."""
    return (manager, operation, "" if operation == APPLY else api_version, subresource)


def identity_sort_key(ident: tuple) -> str:
    """Upstream sorts conflicting managers by their JSON identifier; reproduce that string."""
    manager, operation, api_version, subresource = ident
    doc = {"manager": manager, "operation": operation}
    if api_version:
        doc["apiVersion"] = api_version
    if subresource:
        doc["subresource"] = subresource
    return json.dumps(doc, separators=(",", ":"))


def describe_manager(ident: tuple) -> str:
    """A manager as conflict messages print it: ``"kubectl-edit" using v1``."""
    manager, operation, api_version, subresource = ident
    text = go_quote(manager)
    if subresource:
        text += f" with subresource {go_quote(subresource)}"
    if operation == UPDATE:
        text += f" using {api_version}"
    return text


# ---------------------------------------------------------------------------------------------
# Wire format
# ---------------------------------------------------------------------------------------------

def decode_managed_fields(entries) -> dict:
    """Wire ``managedFields`` → ``{identity: Entry}``; raises ``ValueError`` when invalid.

    Like upstream ``DecodeManagedFields``: operation must be ``Apply``/``Update``,
    ``apiVersion`` non-empty, ``fieldsType`` ``FieldsV1``; a later duplicate identity wins.
    """
    out: dict = {}
    if entries is None:
        return out
    if not isinstance(entries, list):
        raise ValueError("managedFields must be a list")
    for i, raw in enumerate(entries):
        if not isinstance(raw, dict):
            raise ValueError(f"managed fields entry {i} must be an object")
        operation = raw.get("operation")
        if operation not in (APPLY, UPDATE):
            raise ValueError("operation must be `Apply` or `Update`")
        if not raw.get("apiVersion"):
            raise ValueError("apiVersion must not be empty")
        fields_type = raw.get("fieldsType") or ""
        if fields_type != "FieldsV1":
            raise ValueError(f"missing fieldsType in managed fields entry {i}" if not fields_type
                             else f"invalid fieldsType {fields_type!r} in managed fields entry {i}")
        try:
            fields = from_fields_v1(raw.get("fieldsV1") or {})
        except FieldPathError as exc:
            raise ValueError(f"error decoding set: {exc}") from None
        entry = Entry(raw.get("manager") or "", operation, raw["apiVersion"],
                      raw.get("subresource") or "", fields, raw.get("time"))
        out[entry.identity] = entry
    return out


def _seconds(time: str | None) -> int:
    if not time:
        return 0
    try:
        return int(datetime.datetime.fromisoformat(time.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return 0


def encode_managed_fields(managers: dict) -> list:
    """``{identity: Entry}`` → wire entries, sorted like upstream.

    Order: operation (``Apply`` before ``Update``), time (seconds), manager, apiVersion,
    subresource.  Key order inside an entry follows ``ManagedFieldsEntry``.
    """
    entries = []
    for entry in managers.values():
        wire = {"manager": entry.manager, "operation": entry.operation,
                "apiVersion": entry.api_version}
        if entry.time:
            wire["time"] = entry.time
        wire["fieldsType"] = "FieldsV1"
        wire["fieldsV1"] = to_fields_v1(entry.fields)
        if entry.subresource:
            wire["subresource"] = entry.subresource
        entries.append(wire)
    entries.sort(key=lambda e: (e["operation"], _seconds(e.get("time")), e["manager"],
                                e["apiVersion"], e.get("subresource", "")))
    return entries


def store(obj: dict, managers: dict) -> None:
    """Write ``managers`` into ``obj.metadata.managedFields`` (removing the key when empty)."""
    meta = obj.setdefault("metadata", {})
    encoded = encode_managed_fields(managers)
    if encoded:
        meta["managedFields"] = encoded
    else:
        meta.pop("managedFields", None)


def without_managed_fields(obj: dict | None) -> dict | None:
    """A deep copy of ``obj`` minus ``metadata.managedFields``."""
    if obj is None:
        return None
    out = copy.deepcopy(obj)
    if isinstance(out.get("metadata"), dict):
        out["metadata"].pop("managedFields", None)
    return out


def _read_view(obj: dict) -> dict:
    """``obj`` minus ``metadata.managedFields`` without copying the rest: for ``compare``,
    which only reads (a deep copy of a Pod costs more than the comparison itself)."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or "managedFields" not in meta:
        return obj
    return {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}


def _zero_struct(node, depth: int) -> dict:

    out: dict = {}
    props = node.get("properties") or {}
    for name in node.get("required") or ():
        child = definitions.resolve(props.get(name))
        if not isinstance(child, dict):
            continue
        if child.get("properties") and depth < 6:
            out[name] = _zero_struct(child, depth + 1)
        elif definitions.types_of(child) & {"array", "object"}:
            out[name] = None
    return out


def creation_baseline(schema) -> dict:
    """The "old" object a create is compared against (upstream: an empty typed object).

    A Go zero value serialises its top-level ``spec``/``status`` structs and, inside them,
    every non-``omitempty`` (OpenAPI ``required``) field: structs as ``{}``, slices and maps
    as ``null``.  Those count as pre-existing, so a create owns ``.spec.containers[...]``
    but not ``.spec`` or ``.spec.containers`` themselves (no ``"."`` for them in
    ``fieldsV1``).  Untyped objects start from ``{}``.  Optional non-pointer structs are not
    modelled (this only affects whether such a parent carries ``"."``).
    """
    if schema is None:
        return {}

    props = (definitions.resolve(schema) or {}).get("properties") or {}
    out = {}
    for name in ("spec", "status"):
        node = definitions.resolve(props.get(name)) if name in props else None
        if isinstance(node, dict) and node.get("properties"):
            out[name] = _zero_struct(node, 0)
    return out


# ---------------------------------------------------------------------------------------------
# Ownership transfer
# ---------------------------------------------------------------------------------------------

def reconcile(managers: dict, cmp, self_identity: tuple) -> dict:
    """Take changed fields from every other manager; return ``{identity: conflicting paths}``.

    Upstream ``Updater.update`` with ``force``: fields that ``cmp`` added or modified leave
    every manager but ``self_identity`` (those are the conflicts, reported before removal);
    removed paths leave everyone; managers with nothing left are dropped.
    """
    changed = cmp.added | cmp.modified
    conflicts = {}
    for ident, entry in list(managers.items()):
        if ident == self_identity:
            continue
        clash = entry.fields & changed
        if clash:
            conflicts[ident] = clash
        entry.fields -= clash
        entry.fields -= cmp.removed
        if not entry.fields:
            del managers[ident]
    return conflicts


def conflict_error(conflicts: dict) -> errors.Conflict:
    """The 409 upstream ``NewConflictError`` builds, with FieldManagerConflict causes."""
    flat = [(ident, path) for ident in sorted(conflicts, key=identity_sort_key)
            for path in sorted(conflicts[ident], key=path_order)]
    causes = [errors.Cause("FieldManagerConflict", f"conflict with {describe_manager(i)}",
                           path_string(p)) for i, p in flat]
    if len(flat) == 1:
        ident, path = flat[0]
        message = (f"Apply failed with 1 conflict: conflict with {describe_manager(ident)}: "
                   f"{path_string(path)}")
    else:
        lines = []
        for ident in sorted(conflicts, key=identity_sort_key):
            lines.append(f"conflicts with {describe_manager(ident)}:")
            lines.extend(f"- {path_string(p)}" for p in sorted(conflicts[ident], key=path_order))
        message = f"Apply failed with {len(flat)} conflicts: " + "\n".join(lines)
    return errors.Conflict(message, causes=causes)


def cap_update_managers(managers: dict, limit: int = MAX_UPDATE_MANAGERS) -> None:
    """Merge the oldest ``Update`` entries into per-version ``ancient-changes`` buckets."""
    updaters = [i for i, e in managers.items() if e.operation == UPDATE]
    if len(updaters) <= limit:
        return
    updaters.sort(key=lambda i: (_seconds(managers[i].time), identity_sort_key(i)))
    first_for_version: dict = {}
    length = len(updaters)
    for ident in updaters:
        if length <= limit:
            break
        entry = managers[ident]
        version = entry.api_version
        bucket = identity(ANCIENT_CHANGES, UPDATE, version)
        if version not in first_for_version:
            first_for_version[version] = ident
            continue
        if bucket not in managers:
            first = managers.pop(first_for_version[version])
            managers[bucket] = Entry(ANCIENT_CHANGES, UPDATE, version, "", first.fields,
                                     first.time)
        managers[bucket].fields |= entry.fields
        managers[bucket].time = entry.time
        del managers[ident]
        length -= 1


def _is_reset(entries) -> bool:
    return isinstance(entries, list) and (
        not entries or (len(entries) == 1 and entries[0] in ({}, None)))


def _base_managers(old: dict | None, new: dict, subresource: str) -> dict:
    old_entries = ((old or {}).get("metadata") or {}).get("managedFields")
    if not subresource:
        new_entries = (new.get("metadata") or {}).get("managedFields")
        if _is_reset(new_entries):
            return {}
        try:
            managers = decode_managed_fields(new_entries)
        except ValueError:
            managers = {}
        if managers:
            return managers
    try:
        return decode_managed_fields(old_entries)
    except ValueError:
        return {}


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def update_managed_fields(old: dict | None, new: dict, manager: str, operation: str = UPDATE,
                          api_version: str = "v1", schema=None, subresource: str = "",
                          now: str | None = None, *, ignored_paths=None) -> None:
    """Record a non-apply write (create, update, patch) in ``new["metadata"]["managedFields"]``.

    ``old`` is the stored object (``None`` on create), ``new`` the object about to be stored;
    ``new`` is mutated in place and nothing else is.  The fields that differ between the two
    (every field ``new`` sets, on create) become owned by ``(manager, "Update", api_version,
    subresource)`` - merged into that manager's existing entry, whose ``time`` becomes
    ``now`` - and leave every other manager; fields that disappeared leave everyone;
    managers left with nothing are dropped; more than 10 ``Update`` entries fold the oldest
    into ``ancient-changes``.  When nothing changed no entry is touched.  An empty
    ``manager`` is recorded as ``"unknown"``.

    Client-sent managedFields follow upstream ``decodeLiveOrNew``: on the main resource,
    ``[]`` (or ``[{}]``) resets tracking (only this write's changes are then recorded), a
    valid non-empty list replaces the stored one as the starting point, and anything else
    (absent, invalid) keeps the stored one.  Subresource writes always start from the
    stored list.  ``ignored_paths`` (e.g. ``{(("f", "status"),)}`` on the main resource of a
    type with a status subresource) are never given to anyone.  If ``new`` cannot be walked
    (e.g. a list-map item without keys) the stored managedFields are kept unchanged.
    """
    if operation != UPDATE:
        raise ValueError("update_managed_fields records Update operations; use apply()")
    now = now or utc_now()
    manager = manager or "unknown"
    managers = _base_managers(old, new, subresource)
    old_obj = _read_view(old) if old is not None else creation_baseline(schema)
    new_obj = _read_view(new)
    try:
        cmp = compare(old_obj, new_obj, schema).exclude(ignored_paths)
    except FieldPathError:
        meta = new.setdefault("metadata", {})
        kept = ((old or {}).get("metadata") or {}).get("managedFields")
        if kept:
            meta["managedFields"] = copy.deepcopy(kept)
        else:
            meta.pop("managedFields", None)
        return
    self_ident = ("\x00current-operation",)
    reconcile(managers, cmp, self_ident)
    owned = (cmp.added | cmp.modified) - STRIPPED
    if owned:
        ident = identity(manager, UPDATE, api_version, subresource)
        entry = managers.get(ident)
        if entry is None:
            entry = managers[ident] = Entry(manager, UPDATE, api_version, subresource, set())
        entry.fields |= owned
        entry.time = now
    cap_update_managers(managers)
    store(new, managers)


def owned_by(obj: dict, manager: str, operation: str | None = None) -> set:
    """Convenience for callers and tests: the union of ``manager``'s field sets in ``obj``."""
    managers = decode_managed_fields((obj.get("metadata") or {}).get("managedFields"))
    return set().union(*[e.fields for e in managers.values()
                         if e.manager == manager and operation in (None, e.operation)])


__all__ = ["update_managed_fields", "decode_managed_fields", "encode_managed_fields",
           "conflict_error", "describe_manager", "owned_by", "fields_of", "Entry"]
