"""Kubernetes strategic merge patch (SMP), applied against the built-in type definitions.

Behaviour follows k8s.io/apimachinery ``pkg/util/strategicpatch/patch.go`` at v0.32 (the
``StrategicMergeMapPatch`` path kube-apiserver uses), re-expressed over JSON-schema
definitions instead of Go struct tags:

* maps merge recursively; a ``null`` value deletes the key;
* a list whose property says ``x-kubernetes-patch-strategy: merge`` is merged: lists of
  objects by ``x-kubernetes-patch-merge-key`` (matching items merge recursively, new items are
  added), lists of scalars as a de-duplicated union; any other list is replaced;
* a map whose strategy is ``replace`` is replaced;
* directives: ``$patch: replace|delete`` on a map (replace it / make it ``{}``) and as list
  items (``replace`` → the list becomes the patch's items; ``delete`` → drop the item with that
  merge key); ``$retainKeys`` (clear keys not listed); ``$setElementOrder/<list>`` (order of the
  merged list); ``$deleteFromPrimitiveList/<list>`` (remove values from a scalar list);
* fields the schema does not describe (or ``schema=None``) act like JSON merge patch: maps
  merge, lists are replaced.

Order of merged lists mirrors upstream: items named by the patch (or ``$setElementOrder``) take
the patch's order, server-only items keep their relative order and are interleaved by their
position in the live list.  No directive key ever reaches the result: values copied from the
patch as-is drop maps carrying ``$patch`` and every directive key (upstream relies on typed
decoding for the latter).

Errors: upstream maps its format errors (``invalid patch format of …``) to 400 and
``lists of lists are not supported`` to 422; the other malformed-patch errors (unknown
``$patch`` value, missing merge key, ``$setElementOrder`` mismatch) surface upstream as 500s —
here they are ``BadRequest`` with upstream's text.
"""
from __future__ import annotations

from apiserver.endpoints.patch._values import clone as _clone
from apiserver.endpoints.patch._values import go_fmt as _go_fmt
from apiserver.endpoints.patch._values import go_kind as _go_kind
from apiserver.endpoints.patch._values import json_kind as _json_kind
from apiserver.endpoints.patch._values import same as _same
from apiserver.openapi import definitions
from apiserver.runtime import errors

DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
SET_ORDER = "$setElementOrder"
DELETE_PRIMITIVE = "$deleteFromPrimitiveList"
_STRATEGY = "x-kubernetes-patch-strategy"
_MERGE_KEY = "x-kubernetes-patch-merge-key"
_GENERIC_422 = "the server rejected our request due to an error in our request"
_DROP = object()  # marker: "this value is a directive, do not keep it"


def apply_strategic_merge_patch(doc: dict, patch: dict, schema: dict | None) -> dict:
    """Apply the strategic merge patch ``patch`` to ``doc``; neither input is mutated.

    ``schema`` is the kind's root definition (``definitions.get("io.k8s.api.core.v1.Pod")``) or
    ``None`` for merge-patch behaviour everywhere.  A ``null`` patch is a no-op (as in Go).
    Raises ``BadRequest`` for a non-object patch or a malformed directive and ``Invalid`` (422)
    for lists of lists.
    """
    if patch is None:
        return _clone(doc)
    if not isinstance(patch, dict):
        raise errors.BadRequest(f"json: cannot unmarshal {_json_kind(patch)} into Go value of "
                                "type map[string]interface {}")
    return _merge_map(_clone(doc) if isinstance(doc, dict) else {}, _clone(patch), schema)


# -- maps ---------------------------------------------------------------------------------

def _merge_map(original: dict, patch: dict, schema) -> dict:
    """Merge ``patch`` into ``original`` (both private copies, mutated freely)."""
    if DIRECTIVE in patch:
        directive = patch.pop(DIRECTIVE)
        if directive == "replace":
            return _fresh(patch)
        if directive == "delete":
            return {}  # upstream empties the map; it does not remove the key
        raise _bad_patch_type(directive, {**patch, DIRECTIVE: directive})
    if RETAIN_KEYS in patch:
        _apply_retain_keys(original, patch, patch.pop(RETAIN_KEYS))
    _apply_set_element_orders(original, patch, schema)

    deletions = []
    for key, value in patch.items():
        if key.startswith(DELETE_PRIMITIVE):
            deletions.append((_directive_field(key, DELETE_PRIMITIVE), value))
        else:
            _merge_field(original, key, value, schema)
    # Upstream iterates a Go map (random order); removals after additions is deterministic.
    for field, values in deletions:
        _delete_from_primitive_list(original, field, values)
    return original


def _merge_field(original: dict, key: str, value, schema) -> None:
    if value is None:
        original.pop(key, None)
        return
    current = original.get(key)
    if key not in original or current is None or type(current) is not type(value):
        _put(original, key, _fresh(value))
        return
    raw, child = _field(schema, key)
    strategy, merge_key = _patch_meta(raw, child)
    if isinstance(value, dict) and strategy == "replace":
        _put(original, key, _fresh(value))
    elif isinstance(value, dict):
        original[key] = _merge_map(current, value, child)
    elif isinstance(value, list):
        original[key] = _merge_list(current, value, child, strategy, merge_key)[0]
    else:
        original[key] = value


def _apply_retain_keys(original: dict, patch: dict, retain) -> None:
    if not isinstance(retain, list):
        raise errors.BadRequest("invalid patch format of retainKeys")
    keep = {k for k in retain if isinstance(k, str)}
    for key, value in patch.items():
        if value is None or key.startswith(DELETE_PRIMITIVE) or key.startswith(SET_ORDER):
            continue
        if key not in keep:  # the patch may only set fields it also retains
            raise errors.BadRequest("invalid patch format of retainKeys")
    for key in [k for k in original if k not in keep]:
        del original[key]


def _delete_from_primitive_list(original: dict, field: str, values) -> None:
    if values is None:
        original.pop(field, None)  # upstream: a null deletion list deletes the field
        return
    if not isinstance(values, list):
        raise errors.BadRequest("invalid patch format of primitive list")
    current = original.get(field)
    if isinstance(current, list):  # absent or empty lists stay as they are
        original[field] = [v for v in current if not any(_same(v, d) for d in values)]


# -- $setElementOrder -------------------------------------------------------------------------

def _apply_set_element_orders(original: dict, patch: dict, schema) -> None:
    for directive_key in [k for k in patch if k.startswith(SET_ORDER)]:
        order = patch.pop(directive_key)
        field = _directive_field(directive_key, SET_ORDER)
        if not isinstance(order, list):
            raise errors.BadRequest("invalid patch format of setElementOrder list")
        live = original.get(field)
        live = live if isinstance(live, list) else None
        patch_list = patch.get(field)
        if patch_list is not None and not isinstance(patch_list, list):
            raise errors.BadRequest("invalid patch format of setElementOrder list")
        raw, child = _field(schema, field)
        strategy, merge_key = _patch_meta(raw, child)
        _validate_order(patch_list or [], order, merge_key)
        if live is None and patch_list is None:
            continue
        server_order = live or []
        if patch_list is None:
            merged = live
        else:
            merged, server_order = _merge_list(live or [], patch_list, child, strategy, merge_key)
            del patch[field]
        kind = _element_kind(live or [], patch_list or [])
        if kind is None or (kind == "map" and not merge_key):
            original[field] = merged
            continue
        inside, server_only = _partition(merged, order, merge_key, kind)
        original[field] = _normalize_order(inside, server_only, order, server_order, merge_key, kind)


def _validate_order(patch_list: list, order: list, merge_key: str) -> None:
    """Items of the patch list must appear in ``order`` in the same relative order."""
    if not order or not patch_list:
        return
    items = patch_list
    if merge_key:
        for item in patch_list:
            if not isinstance(item, dict):
                raise errors.BadRequest(f"expected a map, but received a {_go_kind(item)}")
        items = [i for i in patch_list if i.get(DIRECTIVE) != "delete"]
    p = s = 0
    while p < len(items) and s < len(order):
        if isinstance(items[p], dict) and DIRECTIVE in items[p]:
            p += 1
            continue
        if _same_item(items[p], order[s], merge_key):
            p += 1
        s += 1
    if p < len(items) and s >= len(order):
        raise errors.BadRequest(f"The order in patch list:\n{_go_fmt(patch_list)}\n doesn't match "
                                f"{SET_ORDER} list:\n{_go_fmt(order)}\n")


# -- lists ------------------------------------------------------------------------------------

def _merge_list(live: list, patch: list, schema, strategy: str, merge_key: str):
    """Merge two lists; returns ``(merged, server view)``.

    The server view is what upstream's ``$setElementOrder`` step later uses as "the live
    order": Go's in-place ``append`` tricks leave the live slice's backing array holding the
    list after ``$patch: delete`` removals followed by the newly appended items (truncated to
    the live length).  Reproducing it keeps item order identical to kube-apiserver's.
    """
    if strategy != "merge":
        return _fresh(patch), live
    if not live and not patch:
        return live, live
    # Upstream uses the field's own schema for the items when it is not an array schema.
    item_schema = (definitions.items_schema(schema) or schema) if schema else None
    kind = _element_kind(live, patch)
    if kind != "map":
        merged = _dedupe(live + patch)
        inside, server_only = _partition(merged, patch, merge_key, kind)
        return _normalize_order(inside, server_only, patch, live, merge_key, kind), live
    if not merge_key:
        raise errors.BadRequest("cannot merge lists without merge key for type struct")
    view, length, plain, replace = _special_elements(live, patch, merge_key)
    live = view[:length]
    if replace:
        live, plain = [_fresh(i) for i in plain], []
    merged = list(live)
    for item in plain:
        index = _find(merged, merge_key, _merge_key_of(item, merge_key))
        if index is None:
            merged.append(_fresh(item))
            if not replace and length < len(view):  # Go appends into the live backing array
                view[length] = merged[-1]
                length += 1
        else:
            merged[index] = _merge_map(merged[index], item, item_schema)
    inside, server_only = _partition(merged, plain, merge_key, kind)
    return _normalize_order(inside, server_only, plain, live, merge_key, kind), view


def _special_elements(live: list, patch: list, merge_key: str):
    """Apply ``$patch`` list items.

    Returns ``(view, length, plain items, replace?)``: ``view[:length]`` is the live list
    after deletions, done by shifting like Go's ``append(s[:i], s[i+1:]...)`` so the tail of
    ``view`` keeps the stale values upstream's order computation sees.
    """
    view, length = list(live), len(live)
    plain, replace = [], False
    for item in patch:
        if DIRECTIVE not in item:
            plain.append(item)
            continue
        directive = item[DIRECTIVE]
        if directive == "delete":
            value = _merge_key_of(item, merge_key)
            while True:
                found = _find(view[:length], merge_key, value)
                if found is None:
                    break
                view[found:length - 1] = view[found + 1:length]
                length -= 1
        elif directive == "replace":
            replace = True  # keep scanning: other directive items must still be removed
        elif directive == "merge":
            raise errors.BadRequest("merging lists cannot yet be specified in the patch")
        else:
            raise _bad_patch_type(directive, item)
    return view, length, plain, replace


def _partition(items: list, present_in: list, merge_key: str, kind: str) -> tuple[list, list]:
    inside, outside = [], []
    for item in items:
        if kind == "map":
            found = _find(present_in, merge_key, _merge_key_of(item, merge_key)) is not None
        else:
            found = any(_same(item, p) for p in present_in)
        (inside if found else outside).append(item)
    return inside, outside


def _normalize_order(inside, server_only, patch_order, server_order, merge_key, kind) -> list:
    """Sort each group by its reference order, then interleave them (upstream's algorithm)."""
    inside = _sort_by(inside, patch_order, merge_key, kind)
    server_only = _sort_by(server_only, server_order, merge_key, kind)
    left, right, out = server_only, inside, []
    i = j = 0
    while i < len(left) or j < len(right):
        if j >= len(right):
            out.append(left[i])
            i += 1
        elif i >= len(left):
            out.append(right[j])
            j += 1
        else:
            li = _index(server_order, left[i], merge_key, kind)
            ri = _index(server_order, right[j], merge_key, kind)
            # A server-only item goes first only when both are in the live list and it is
            # earlier there; items new to the list therefore precede later server-only ones.
            if li >= 0 and ri >= 0 and li < ri:
                out.append(left[i])
                i += 1
            else:
                out.append(right[j])
                j += 1
    return out


def _sort_by(items: list, order: list, merge_key: str, kind: str) -> list:
    to_delete = []
    if kind == "map":
        for item in items + order:
            _merge_key_of(item, merge_key)
        to_delete = [i for i in items if i.get(DIRECTIVE) == "delete"]
        items = [i for i in items if i.get(DIRECTIVE) != "delete"]

    def position(item):
        found = _index(order, item, merge_key, kind)
        return found if found >= 0 else len(order)
    return sorted(items, key=position) + to_delete


def _index(items: list, wanted, merge_key: str, kind: str) -> int:
    if kind == "map":
        wanted = wanted.get(merge_key) if isinstance(wanted, dict) else None
        for i, item in enumerate(items):
            if isinstance(item, dict) and _same(item.get(merge_key), wanted):
                return i
        return -1
    for i, item in enumerate(items):
        if _same(item, wanted):
            return i
    return -1


def _find(items: list, merge_key: str, value):
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise errors.BadRequest(f"value for key {i} is not a map.")
        if merge_key in item and _same(item[merge_key], value):
            return i
    return None


def _merge_key_of(item, merge_key: str):
    if not isinstance(item, dict):
        raise errors.BadRequest(f"expected a map, but received a {_go_kind(item)}")
    if merge_key not in item:
        raise errors.BadRequest(f"map: {_go_fmt(item)} does not contain declared merge key: {merge_key}")
    return item[merge_key]


def _same_item(a, b, merge_key: str) -> bool:
    if not merge_key:
        return _same(a, b)
    return _same(_merge_key_of(a, merge_key), _merge_key_of(b, merge_key))


def _element_kind(*lists: list) -> str | None:
    """The common element type of the lists ("map" or a scalar tag); None when all are empty."""
    kind = None
    for items in lists:
        for item in items:
            tag = _go_kind(item)
            if tag == "slice":
                err = errors.Invalid(_GENERIC_422)
                err.patch_error = "lists of lists are not supported"
                raise err
            if kind is None:
                kind = tag
            elif kind != tag:
                raise errors.BadRequest(f"list element types are not identical: {_go_fmt(list(lists))}")
    return kind


def _dedupe(items: list) -> list:
    out = []
    for item in items:
        if not any(_same(item, seen) for seen in out):
            out.append(item)
    return out


# -- schema -------------------------------------------------------------------------------

def _field(schema, key: str):
    """``(raw property node, resolved schema)`` of ``key``; the raw node carries the patch
    extensions, which sit beside the ``$ref`` and are lost by resolving."""
    node = definitions.resolve(schema) if schema else None
    if not isinstance(node, dict):
        return None, None
    raw = (node.get("properties") or {}).get(key)
    if raw is None and isinstance(node.get("additionalProperties"), dict):
        raw = node["additionalProperties"]
    if not isinstance(raw, dict):
        return None, None
    return raw, definitions.resolve(raw)


def _patch_meta(raw, child) -> tuple[str, str]:
    """``(strategy, merge key)``; ``retainKeys`` is dropped since it only licenses a directive."""
    raw, child = raw or {}, child or {}
    strategies = str(raw.get(_STRATEGY) or child.get(_STRATEGY) or "").split(",")
    others = [s for s in strategies if s and s != "retainKeys"]
    return (others[0] if others else ""), str(raw.get(_MERGE_KEY) or child.get(_MERGE_KEY) or "")


# -- values -------------------------------------------------------------------------------

def _fresh(value):
    """``value`` as stored when copied from the patch: no null members, no directives.

    Maps carrying ``$patch`` are dropped entirely (upstream ``removeDirectives``)."""
    if isinstance(value, dict):
        if DIRECTIVE in value:
            return _DROP
        out = {}
        for k, v in value.items():
            if v is None or _is_directive_key(k):
                continue
            v = _fresh(v)
            if v is not _DROP:
                out[k] = v
        return out
    if isinstance(value, list):
        return [v for v in (_fresh(x) for x in value) if v is not _DROP]
    return value


def _put(target: dict, key: str, value) -> None:
    if value is _DROP:
        target.pop(key, None)
    else:
        target[key] = value


def _is_directive_key(key: str) -> bool:
    return key in (DIRECTIVE, RETAIN_KEYS) or key.startswith(SET_ORDER) \
        or key.startswith(DELETE_PRIMITIVE)


def _directive_field(key: str, prefix: str) -> str:
    head, sep, field = key.partition("/")
    if head != prefix or not sep:
        which = "primitive list" if prefix == DELETE_PRIMITIVE else "setElementOrder list"
        raise errors.BadRequest(f"invalid patch format of {which}")
    return field


def _bad_patch_type(directive, item) -> errors.BadRequest:
    return errors.BadRequest(f"unknown patch type: {_go_fmt(directive)} in map: {_go_fmt(item)}")

