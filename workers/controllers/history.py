"""ControllerRevisions as the DaemonSet and StatefulSet controllers keep them (upstream
pkg/controller/history/controller_history.go, and ``getPatch`` in pkg/controller/daemon/
update.go and pkg/controller/statefulset/stateful_set_utils.go).

A revision's ``data`` is the strategic-merge patch that puts its template back:
``{"spec": {"template": {..., "$patch": "replace"}}}`` — exactly what ``kubectl rollout
undo`` sends back as a patch.  Revisions are compared by that data (parsed, so the server's
serialisation does not matter), numbered by ``revision`` (highest = newest), and owned by
their parent with a controller ownerReference.
"""
from __future__ import annotations

import copy
import json

from apiserver.client import ApiError

from . import deployment_util as du
from . import podutil, selectors

REVISIONS = "/apis/apps/v1/controllerrevisions"
HASH_LABEL = "controller-revision-hash"


def revisions_path(ns: str, name: str = "") -> str:
    return f"/apis/apps/v1/namespaces/{ns}/controllerrevisions" + (f"/{name}" if name else "")


def patch_of(parent: dict) -> dict:
    """``getPatch``: the parent's template as a replacing strategic-merge patch."""
    template = copy.deepcopy((parent.get("spec") or {}).get("template") or {})
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


def template_of(revision: dict) -> dict:
    """``ApplyRevision`` for these patches: the template a revision restores."""
    template = copy.deepcopy(((revision.get("data") or {}).get("spec") or {}).get("template")
                             or {})
    template.pop("$patch", None)
    return template


def fnv32(data: bytes) -> int:
    """Go's ``hash/fnv.New32`` (FNV-1, not 1a), which ``HashControllerRevision`` uses."""
    h = 0x811C9DC5
    for b in data:
        h = ((h * 0x01000193) & 0xFFFFFFFF) ^ b
    return h


def data_hash(data: dict, collision_count: int | None) -> str:
    """``HashControllerRevision``: FNV-1 over the data (and the collision count), spelt in
    ``rand.SafeEncodeString``'s alphabet.  Our JSON bytes are not Go's, so the digits differ
    from upstream's for the same template; nothing compares them across implementations."""
    raw = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    if collision_count is not None:
        raw += str(int(collision_count)).encode()
    return "".join(du.ALPHANUMS[ord(c) % len(du.ALPHANUMS)] for c in str(fnv32(raw)))


def revision_name(parent_name: str, hash_: str) -> str:
    """``ControllerRevisionName``: the parent's name (cut to 223 characters) and the hash."""
    return f"{parent_name[:223]}-{hash_}"


def new_revision(parent: dict, hash_: str, number: int, annotations: dict | None) -> dict:
    """``NewControllerRevision``: the template's labels plus the hash label, the parent as
    controller, the patch as data."""
    labels = dict((((parent["spec"].get("template") or {}).get("metadata") or {})
                   .get("labels")) or {})
    labels[HASH_LABEL] = hash_
    meta = {"name": revision_name(parent["metadata"]["name"], hash_),
            "namespace": parent["metadata"]["namespace"], "labels": labels,
            "ownerReferences": [podutil.owner_reference(parent)]}
    if annotations:
        meta["annotations"] = dict(annotations)
    return {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": meta,
            "data": patch_of(parent), "revision": number}


def number(revision: dict) -> int:
    return int(revision.get("revision") or 0)


def equal(a: dict, b: dict) -> bool:
    """``EqualRevision``: the same restoring patch."""
    return (a.get("data") or {}) == (b.get("data") or {})


class History:
    """List, adopt, create, renumber and delete one parent kind's ControllerRevisions
    through the API, from a shared ControllerRevision informer."""

    def __init__(self, client, informer, kind: str):
        self.client, self.informer, self.kind = client, informer, kind

    async def claim(self, parent: dict) -> list[dict]:
        """``ClaimControllerRevisions``: revisions the parent controls, with orphans its
        selector matches adopted and owned ones it no longer matches released, oldest
        first."""
        ns, uid = parent["metadata"]["namespace"], parent["metadata"]["uid"]
        sel = parent["spec"].get("selector")
        deleting = bool(parent["metadata"].get("deletionTimestamp"))
        out = []
        for rev in list(self.informer.cache.values()):
            if rev["metadata"].get("namespace") != ns:
                continue
            ref = podutil.controller_ref(rev)
            ok = selectors.matches(sel, rev["metadata"].get("labels")) and \
                not selectors.is_empty(sel)
            if ref is not None and ref.get("uid") == uid:
                if ok or deleting:
                    out.append(rev)
                else:
                    await self._set_owner(rev, None)
            elif ref is None and ok and not deleting:
                adopted = await self._set_owner(rev, parent)
                if adopted is not None:
                    out.append(adopted)
        out.sort(key=lambda r: (number(r), r["metadata"].get("creationTimestamp") or "",
                                r["metadata"]["name"]))
        return out

    async def _set_owner(self, rev: dict, parent: dict | None) -> dict | None:
        m = rev["metadata"]
        return await podutil.set_controller_ref(
            self.client, revisions_path(m["namespace"], m["name"]), rev, parent)

    async def create(self, revision: dict, parent: dict) -> dict:
        """``CreateControllerRevision``; an existing equal revision of the same owner is
        returned, a different one is a hash collision (ApiError 409, the caller bumps
        collisionCount)."""
        ns = revision["metadata"]["namespace"]
        try:
            return await self.client.create(revisions_path(ns), revision)
        except ApiError as exc:
            if exc.status != 409:
                raise
            existing = await self.client.get(revisions_path(ns, revision["metadata"]["name"]))
            ref = podutil.controller_ref(existing)
            if ref is not None and ref.get("uid") == parent["metadata"]["uid"] and \
                    equal(existing, revision):
                return existing
            raise

    async def renumber(self, revision: dict, new_number: int) -> dict:
        """``UpdateControllerRevision``: only ``revision`` changes (``data`` is immutable)."""
        if number(revision) == new_number:
            return revision
        m = revision["metadata"]
        return await self.client.patch(revisions_path(m["namespace"], m["name"]),
                                       {"revision": new_number})

    async def delete(self, revision: dict) -> None:
        m = revision["metadata"]
        try:
            await self.client.delete(revisions_path(m["namespace"], m["name"]),
                                     {"preconditions": {"uid": m["uid"]}})
        except ApiError as exc:
            if exc.status not in (404, 409):
                raise


def history_limit(parent: dict) -> int:
    limit = parent["spec"].get("revisionHistoryLimit")
    return 10 if limit is None else int(limit)
