"""RFC 7386 JSON merge patch, as kube-apiserver applies it (evanphx/json-patch v4 ``MergePatch``).

Semantics: a ``null`` member deletes the key, an object member merges recursively into an
object (or replaces a non-object), and every other value — arrays included — replaces the
target wholesale.  Values that are placed rather than merged have their ``null`` members
pruned (recursively, also inside objects nested in arrays), as v4 does, so a merge patch can
never store an explicit ``null`` in an object.
"""
from __future__ import annotations

from apiserver.endpoints.patch._values import clone as _clone
from apiserver.runtime import errors

BAD_PATCH_MESSAGE = "Invalid JSON Patch"  # v4's ErrBadJSONPatch text


def apply_merge_patch(doc: dict, patch: dict) -> dict:
    """Return ``doc`` with the merge patch ``patch`` applied; ``doc`` is never mutated.

    ``patch`` must be a JSON object.  ``null`` (v4's ``ErrBadJSONPatch``) and scalars raise
    ``BadRequest("Invalid JSON Patch")``.  A top-level array is also rejected with
    ``BadRequest``: RFC 7386 would make the whole document the array, which can never decode
    as a Kubernetes object (upstream fails later with a 422 decode error instead).
    """
    if not isinstance(patch, dict):
        raise errors.BadRequest(BAD_PATCH_MESSAGE)
    target = _clone(doc) if isinstance(doc, dict) else {}
    _merge_into(target, patch)
    return target


def _merge_into(target: dict, patch: dict) -> None:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge_into(target[key], value)
        else:
            target[key] = _pruned(value)


def _pruned(value):
    """A copy of ``value`` without ``null`` object members (array elements are kept)."""
    if isinstance(value, dict):
        return {k: _pruned(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value
