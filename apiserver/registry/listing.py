"""List options: continue tokens and the resourceVersion/resourceVersionMatch rules.

Upstream: k8s.io/apiserver ``pkg/storage/continue.go`` and the list rules in
``pkg/storage/cacher/cacher.go`` / ``etcd3/store.go``; which options may be combined:
kubernetes/apimachinery:pkg/apis/meta/internalversion/validation/validation.go.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass

import orjson

from apiserver.runtime.errors import BadRequest

_TOKEN_VERSION = "meta.k8s.io/v1"


def encode_continue(rv: int, key: tuple[str, str]) -> str:
    raw = orjson.dumps({"v": _TOKEN_VERSION, "rv": rv, "start": [key[0], key[1]]})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_continue(token: str, namespace: str | None) -> tuple[int, tuple[str, str]]:
    """(revision, last key) from a token; 400 for anything not minted by us for this scope."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = orjson.loads(raw)
        rv, (ns, name) = int(data["rv"]), data["start"]
        ok = data.get("v") == _TOKEN_VERSION and isinstance(ns, str) and isinstance(name, str)
    except Exception:  # any decoding failure is the client's bad token
        ok = False
    # A token never widens the scope of the list it continues (upstream refuses a decoded start
    # key that climbs out of the list's prefix: kubernetes/apiserver:pkg/storage/continue.go).
    if not ok or rv <= 0 or (namespace is not None and ns != namespace) or "/" in name:
        raise BadRequest("continue key is not valid: incorrect encoded start resourceVersion "
                         "(version meta.k8s.io/v1)")
    return rv, (ns, name)


@dataclass
class ListPlan:
    """How to read a list: ``at`` None means the current state."""

    at: int | None = None
    after: tuple[str, str] | None = None
    min_rv: int = 0        # wait until the store has reached this revision


def plan_list(resource_version: str | None, match: str | None, limit: int,
              continue_token: str | None, namespace: str | None) -> ListPlan:
    if continue_token:
        if resource_version not in (None, "", "0") or match:
            raise BadRequest("specifying resource version is not allowed when using continue")
        rv, key = decode_continue(continue_token, namespace)
        return ListPlan(at=rv, after=key)
    n = _parse_rv(resource_version)
    if match:
        if match not in ("NotOlderThan", "Exact"):
            raise BadRequest(f'resourceVersionMatch: Unsupported value: "{match}": supported '
                             'values: "Exact", "NotOlderThan"')
        if resource_version in (None, ""):
            raise BadRequest("resourceVersionMatch is forbidden unless resourceVersion is provided")
        if match == "Exact":
            if n == 0:
                raise BadRequest('resourceVersionMatch "exact" is forbidden for resourceVersion "0"')
            return ListPlan(at=n, min_rv=n)    # a future revision is "too large", not "now"
        return ListPlan(min_rv=n)
    if n and limit:
        return ListPlan(at=n, min_rv=n)   # legacy: RV=N with a limit reads exactly N
    return ListPlan(min_rv=n)


def _parse_rv(value: str | None) -> int:
    if value in (None, ""):
        return 0
    try:
        n = int(value)
    except ValueError:
        raise BadRequest(f'invalid resource version "{value}"') from None
    if n < 0:
        raise BadRequest(f'invalid resource version "{value}"')
    return n


def parse_rv(value: str | None) -> int:
    return _parse_rv(value)
