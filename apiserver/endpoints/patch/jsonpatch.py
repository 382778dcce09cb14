"""RFC 6902 JSON Patch, with kube-apiserver's limits and status codes.

kube-apiserver applies JSON patches with ``gopkg.in/evanphx/json-patch.v4``; the wire-visible
behaviour reproduced here (see ``staging/src/k8s.io/apiserver/pkg/endpoints/handlers/patch.go``):

* a body that is not a JSON array of objects → **400 BadRequest** with the Go decoder's text;
* more than 10,000 operations → **413 RequestEntityTooLarge**
  ``Request entity too large: The allowed maximum operations in a JSON patch is 10000, got N``;
* any failure while applying (unknown ``op``, bad or missing path, failed ``test``, copies
  growing the document by more than 3 MiB in total) → **422 Invalid** with the fixed message
  ``the server rejected our request due to an error in our request`` and no causes: upstream
  wraps the library error with ``NewGenericServerResponse(422, …, isUnexpectedResponse=false)``,
  which drops the library's text.  The text is kept on the exception as ``patch_error``.

Deliberate v4 quirks kept because clients observe them: ``replace`` of a missing object member
adds it; ``copy`` from a missing object member copies ``null``; negative array indices count
from the end; ``add`` with path ``""`` fails.  Only ``copy`` counts toward the 3 MiB budget
(``move`` relocates and ``add`` values are already bounded by the request-body limit).
"""
from __future__ import annotations

import re

import orjson

from apiserver.endpoints.patch._values import clone as _clone
from apiserver.endpoints.patch._values import json_kind as _json_kind
from apiserver.runtime import errors

MAX_OPERATIONS = 10000
MAX_COPY_BYTES = 3 * 1024 * 1024  # kube-apiserver's JSONPatchMaxCopyBytes default
APPLY_FAILED_MESSAGE = "the server rejected our request due to an error in our request"

_INDEX = re.compile(r"^[+-]?[0-9]+$")  # what Go's strconv.Atoi accepts


class _Failed(Exception):
    """Internal: an operation could not be applied (becomes the generic 422)."""


def apply_json_patch(doc: dict, ops: list) -> dict:
    """Apply the RFC 6902 operation list ``ops`` to ``doc`` and return the new document.

    ``doc`` is never mutated.  ``ops`` is the decoded request body (``None`` — the JSON
    ``null`` — is an empty patch, as in Go).  Raises ``BadRequest`` when ``ops`` is not a list
    of objects, ``RequestEntityTooLarge`` above :data:`MAX_OPERATIONS` operations, and
    ``Invalid`` (422, message :data:`APPLY_FAILED_MESSAGE`, detail in ``.patch_error``) when an
    operation fails, so the whole patch is rejected atomically.
    """
    if ops is None:
        ops = []
    if not isinstance(ops, list):
        raise errors.BadRequest(
            f"json: cannot unmarshal {_json_kind(ops)} into Go value of type jsonpatch.Patch")
    for op in ops:
        if op is not None and not isinstance(op, dict):
            raise errors.BadRequest(
                f"json: cannot unmarshal {_json_kind(op)} into Go value of type jsonpatch.Operation")
    if len(ops) > MAX_OPERATIONS:
        raise errors.RequestEntityTooLarge(
            "Request entity too large: The allowed maximum operations in a JSON patch is "
            f"{MAX_OPERATIONS}, got {len(ops)}")

    state = _State(_clone(doc))
    try:
        for op in ops:
            state.apply(op or {})
    except _Failed as exc:
        err = errors.Invalid(APPLY_FAILED_MESSAGE)
        err.patch_error = str(exc)
        raise err from None
    if not isinstance(state.root, dict):  # only reachable through replace at ""
        err = errors.Invalid(APPLY_FAILED_MESSAGE)
        err.patch_error = "patched document is not an object"
        raise err
    return state.root


class _State:
    """The document being patched plus the running copy-size budget."""

    def __init__(self, root):
        self.root = root
        self.copied = 0

    def apply(self, op: dict) -> None:
        kind = op.get("op")
        handler = {"add": self._add, "remove": self._remove, "replace": self._replace,
                   "move": self._move, "copy": self._copy, "test": self._test}.get(kind)
        if handler is None:
            raise _Failed(f"Unexpected kind: {kind if isinstance(kind, str) else 'unknown'}")
        handler(op)

    # -- pointer resolution ---------------------------------------------------------------

    def _parent(self, op: dict, field: str):
        """Return ``(container, last_token)`` for ``op[field]``; fail like v4's findObject."""
        path = op.get(field)
        if not isinstance(path, str):
            raise _Failed(f"{op.get('op')} operation missing {field} field")
        if not path.startswith("/"):
            raise _Failed(f'{op.get("op")} operation does not apply: doc is missing path: "{path}"')
        tokens = [_unescape(t) for t in path.split("/")[1:]]
        node = self.root
        for token in tokens[:-1]:
            node = _child(node, token)
            if not isinstance(node, (dict, list)):
                raise _Failed(f'{op.get("op")} operation does not apply: doc is missing path: "{path}"')
        return node, tokens[-1], path

    # -- operations -----------------------------------------------------------------------

    def _add(self, op: dict) -> None:
        container, key, path = self._parent(op, "path")
        _insert(container, key, _clone(op.get("value")), path)

    def _remove(self, op: dict) -> None:
        container, key, path = self._parent(op, "path")
        _delete(container, key, path)

    def _replace(self, op: dict) -> None:
        if op.get("path") == "":
            value = op.get("value")
            if not isinstance(value, (dict, list)):
                raise _Failed("replace operation value must be object or array")
            self.root = _clone(value)
            return
        container, key, path = self._parent(op, "path")
        if isinstance(container, dict):
            container[key] = _clone(op.get("value"))  # v4: a missing member is simply set
        else:
            container[_array_index(container, key, len(container) - 1, path)] = _clone(op.get("value"))

    def _move(self, op: dict) -> None:
        container, key, source = self._parent(op, "from")
        value = container.get(key) if isinstance(container, dict) \
            else container[_array_index(container, key, len(container) - 1, source)]
        _delete(container, key, source)
        target, tkey, path = self._parent(op, "path")
        _insert(target, tkey, value, path)

    def _copy(self, op: dict) -> None:
        container, key, source = self._parent(op, "from")
        value = container.get(key) if isinstance(container, dict) \
            else container[_array_index(container, key, len(container) - 1, source)]
        target, tkey, path = self._parent(op, "path")
        # Budget in serialized bytes, as v4 does, so a patch that doubles a value with each
        # copy is stopped after a handful of operations instead of exhausting memory.
        self.copied += len(orjson.dumps(value))
        if self.copied > MAX_COPY_BYTES:
            raise _Failed("Unable to complete the copy, the accumulated size increase of copy "
                          f"is {self.copied}, exceeding the limit {MAX_COPY_BYTES}")
        _insert(target, tkey, _clone(value), path)

    def _test(self, op: dict) -> None:
        path = op.get("path")
        if path == "":
            actual = self.root
        else:
            container, key, path = self._parent(op, "path")
            actual = container.get(key) if isinstance(container, dict) \
                else container[_array_index(container, key, len(container) - 1, path)]
        # v4 cannot tell a JSON null from a missing member: both satisfy {"value": null}.
        if not _equal(actual, op.get("value")):
            raise _Failed(f"testing value {path} failed: test failed")


def _child(node, token: str):
    if isinstance(node, dict):
        if token not in node:
            raise _Failed(f"missing value at {token!r}")
        return node[token]
    if isinstance(node, list):
        return node[_array_index(node, token, len(node) - 1, token)]
    raise _Failed(f"cannot descend into a scalar at {token!r}")


def _array_index(array: list, token: str, highest: int, path: str) -> int:
    """Resolve ``token`` to an index in ``0..highest``; negatives count from the end (v4)."""
    if not _INDEX.match(token):
        raise _Failed(f"value was not a proper array index: '{token}' in {path}")
    idx = int(token)
    if idx < 0:
        if idx < -(highest + 1):
            raise _Failed(f"Unable to access invalid index: {idx}")
        idx += highest + 1
    if idx > highest:
        raise _Failed(f"Unable to access invalid index: {idx}")
    return idx


def _insert(container, key: str, value, path: str) -> None:
    if isinstance(container, dict):
        container[key] = value
    elif key == "-":
        container.append(value)
    else:
        container.insert(_array_index(container, key, len(container), path), value)


def _delete(container, key: str, path: str) -> None:
    if isinstance(container, dict):
        if key not in container:
            raise _Failed(f"Unable to remove nonexistent key: {key}: missing value")
        del container[key]
    else:
        del container[_array_index(container, key, len(container) - 1, path)]


def _unescape(token: str) -> str:
    # RFC 6901: "~1" first, then "~0", so "~01" decodes to "~1" rather than "/".
    return token.replace("~1", "/").replace("~0", "~")


def _equal(a, b) -> bool:
    """JSON equality: ``true`` is not ``1`` and ``1`` is not ``1.0`` (v4 compares raw bytes)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b
