"""An in-memory stand-in for the API a controller talks to, for one-sync unit tests of
the daemonset and statefulset controllers: informers whose caches the test fills, a client
that records every write (and answers creates with the object plus a uid), a recorder that
keeps events.  This module holds no tests."""
from __future__ import annotations

import copy
import itertools

_uids = itertools.count(1)


class FakeInformer:
    def __init__(self):
        self.cache: dict[str, dict] = {}

    def put(self, obj: dict) -> dict:
        m = obj["metadata"]
        m.setdefault("uid", f"uid-{m['name']}")
        self.cache[f"{m.get('namespace', '')}/{m['name']}"] = obj
        return obj

    def get(self, name: str, namespace: str | None = None) -> dict | None:
        return self.cache.get(f"{namespace or ''}/{name}")


class FakeInformers:
    def __init__(self):
        self.by_path: dict[str, FakeInformer] = {}

    def informer(self, path: str) -> FakeInformer:
        return self.by_path.setdefault(path, FakeInformer())

    def add_handler(self, path: str, fn) -> FakeInformer:
        return self.informer(path)


def _merge(obj: dict, patch: dict) -> dict:
    out = copy.deepcopy(obj)
    for k, v in patch.items():
        out[k] = _merge(out.get(k) or {}, v) if isinstance(v, dict) else v
    return out


class FakeClient:
    """``known``: objects by name, which a patch of that name merges into (as the server
    answers a merge patch with the whole object)."""

    def __init__(self):
        self.calls: list[tuple] = []
        self.known: dict[str, dict] = {}

    async def create(self, path, obj, params=None):
        obj = copy.deepcopy(obj)
        m = obj["metadata"]
        if "name" not in m:
            m["name"] = f"{m.get('generateName', 'x-')}{next(_uids)}"
        m.setdefault("uid", f"uid-{m['name']}")
        self.calls.append(("create", path, obj))
        return obj

    async def update(self, path, obj, params=None):
        self.calls.append(("update", path, copy.deepcopy(obj)))
        return obj

    async def patch(self, path, body, content_type=None, params=None):
        self.calls.append(("patch", path, body))
        return _merge(self.known.get(path.rsplit("/", 1)[1], {}), body)

    async def delete(self, path, options=None, params=None):
        self.calls.append(("delete", path, options))
        return {}

    async def get(self, path, params=None):
        raise AssertionError(f"unexpected GET {path}")

    def created(self, kind_path: str) -> list[dict]:
        return [c[2] for c in self.calls if c[0] == "create" and c[1].endswith(kind_path)]

    def deleted(self, kind_path: str) -> list[str]:
        return [c[1].rsplit("/", 1)[1] for c in self.calls
                if c[0] == "delete" and f"/{kind_path}/" in c[1]]


class FakeRecorder:
    def __init__(self):
        self.events: list[tuple] = []

    def record(self, obj, kind, reason, message, field_path=None):
        self.events.append((kind, reason, message))
