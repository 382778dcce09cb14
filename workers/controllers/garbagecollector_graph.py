"""The garbage collector's dependency graph: a node per object uid, with its owner
references and the uids of its dependents, kept from the informers' events.

Upstream: pkg/controller/garbagecollector/graph.go and graph_builder.go
(``processGraphChanges``, ``processTransitions``, ``addUnblockedOwnersToDeleteQueue``).
An owner that is referenced but not (yet) observed gets a *virtual* node, which the
collector verifies with a live read; a virtual delete (the owner was verified absent)
removes it and hands its dependents to ``attempt_to_delete``.

The builder decides nothing itself: it calls ``attempt_to_delete(uid)`` and
``attempt_to_orphan(uid)`` (the collector's queues) when a node may need work.  Everything
runs on one event loop, so handlers mutate the graph without locks.
"""
from __future__ import annotations

from dataclasses import dataclass, field

ORPHAN = "orphan"
FOREGROUND = "foregroundDeletion"
ABSENT_CACHE = 500


@dataclass(frozen=True)
class Identity:
    api_version: str
    kind: str
    namespace: str                  # the dependent's namespace for a virtual owner node
    name: str
    uid: str


@dataclass
class Node:
    identity: Identity
    owners: list = field(default_factory=list)      # ownerReferences as last observed
    dependents: set = field(default_factory=set)    # uids
    virtual: bool = False
    being_deleted: bool = False
    deleting_dependents: bool = False

    def blocking_dependents(self, graph: "Graph") -> list["Node"]:
        """Dependents whose reference to this node has blockOwnerDeletion: true."""
        out = []
        for uid in self.dependents:
            dep = graph.nodes.get(uid)
            if dep is not None and any(r.get("uid") == self.identity.uid
                                       and r.get("blockOwnerDeletion") for r in dep.owners):
                out.append(dep)
        return out


def identity_of(obj: dict, api_version: str = "", kind: str = "") -> Identity:
    """An object's coordinates; ``api_version``/``kind`` are the watched resource's (list
    items need not carry their own)."""
    m = obj.get("metadata") or {}
    return Identity(api_version or obj.get("apiVersion", ""), kind or obj.get("kind", ""),
                    m.get("namespace") or "", m.get("name", ""), m.get("uid", ""))


def _deleting(obj: dict | None) -> bool:
    return bool(((obj or {}).get("metadata") or {}).get("deletionTimestamp"))


def _has(obj: dict | None, finalizer: str) -> bool:
    return finalizer in (((obj or {}).get("metadata") or {}).get("finalizers") or ())


def _starts_waiting(old: dict | None, new: dict, finalizer: str) -> bool:
    """The object just began a deletion held by ``finalizer`` (or is first seen so)."""
    if not (_deleting(new) and _has(new, finalizer)):
        return False
    return old is None or not (_deleting(old) and _has(old, finalizer))


class Graph:
    def __init__(self, attempt_to_delete, attempt_to_orphan):
        self.nodes: dict[str, Node] = {}
        self.attempt_to_delete = attempt_to_delete
        self.attempt_to_orphan = attempt_to_orphan
        # owners verified gone, (apiVersion, kind, namespace, name, uid) → None, oldest
        # first: upstream's absentOwnerCache, an LRU of ABSENT_CACHE entries
        self.absent: dict[tuple, None] = {}

    def mark_absent(self, key: tuple) -> None:
        self.absent.pop(key, None)
        self.absent[key] = None
        while len(self.absent) > ABSENT_CACHE:
            self.absent.pop(next(iter(self.absent)))

    # ---- informer events ------------------------------------------------------------------
    def observe(self, event: str, obj: dict, old: dict | None, api_version: str = "",
                kind: str = "") -> None:
        """One informer change (ADDED, MODIFIED, DELETED) of a watched resource."""
        ident = identity_of(obj, api_version, kind)
        if not ident.uid:
            return
        node = self.nodes.get(ident.uid)
        if node is not None and node.virtual and event != "DELETED":
            # the owner a dependent named has now been seen: keep its dependents, take
            # the observed coordinates
            node.virtual, node.identity = False, ident
        owners = list((obj.get("metadata") or {}).get("ownerReferences") or ())
        if event == "DELETED":
            if node is not None:
                self._remove(node, ident)
            return
        if node is None:
            node = Node(ident, owners=owners, being_deleted=_deleting(obj),
                        deleting_dependents=_deleting(obj) and _has(obj, FOREGROUND))
            self.nodes[ident.uid] = node
            self._add_to_owners(node, owners)
        else:
            added, removed, changed = _diff(node.owners, owners)
            if added or removed or changed:
                self._unblocked_owners(removed, changed)
                node.owners = owners
                self._add_to_owners(node, added)
                for ref in removed:
                    owner = self.nodes.get(ref.get("uid"))
                    if owner is not None:
                        owner.dependents.discard(ident.uid)
            if _deleting(obj):
                node.being_deleted = True
        self._transitions(old, obj, node)

    def virtual_delete(self, ident: Identity) -> None:
        """The collector verified that the object ``ident`` names is gone (404 or another
        uid): drop its node (only a virtual one, or one with exactly these coordinates) and
        let its dependents be reconsidered."""
        node = self.nodes.get(ident.uid)
        if node is None:
            return
        if not node.virtual and node.identity != ident:
            return      # an observed object under other coordinates: informer events rule it
        self._remove(node, ident)

    # ---- helpers --------------------------------------------------------------------------
    def _remove(self, node: Node, ident: Identity) -> None:
        self.nodes.pop(node.identity.uid, None)
        for ref in node.owners:
            owner = self.nodes.get(ref.get("uid"))
            if owner is None:
                continue
            owner.dependents.discard(node.identity.uid)
            if owner.deleting_dependents:
                # let the owner see whether its last blocking dependent just went
                self.attempt_to_delete(owner.identity.uid)
            if owner.virtual and not owner.dependents:
                self.nodes.pop(owner.identity.uid, None)
        if node.dependents:
            self.mark_absent((ident.api_version, ident.kind, ident.namespace, ident.name,
                              ident.uid))
        for uid in list(node.dependents):
            self.attempt_to_delete(uid)

    def _add_to_owners(self, node: Node, refs) -> None:
        for ref in refs:
            uid = ref.get("uid")
            if not uid:
                continue
            owner = self.nodes.get(uid)
            if owner is None:
                owner = Node(Identity(ref.get("apiVersion", ""), ref.get("kind", ""),
                                      node.identity.namespace, ref.get("name", ""), uid),
                             virtual=True)
                self.nodes[uid] = owner
                owner.dependents.add(node.identity.uid)
                # verify the owner exists: if not, a virtual delete frees the dependents
                self.attempt_to_delete(uid)
            else:
                owner.dependents.add(node.identity.uid)

    def _unblocked_owners(self, removed, changed) -> None:
        """Owners waiting for blocking dependents that this change may have released."""
        for ref in removed:
            if ref.get("blockOwnerDeletion"):
                self._wake_deleting(ref.get("uid"))
        for before, after in changed:
            if before.get("blockOwnerDeletion") and not after.get("blockOwnerDeletion"):
                self._wake_deleting(after.get("uid"))

    def _wake_deleting(self, uid) -> None:
        owner = self.nodes.get(uid)
        if owner is not None and owner.deleting_dependents:
            self.attempt_to_delete(uid)

    def _transitions(self, old: dict | None, new: dict, node: Node) -> None:
        if _starts_waiting(old, new, ORPHAN):
            self.attempt_to_orphan(node.identity.uid)
            return
        if _starts_waiting(old, new, FOREGROUND):
            node.deleting_dependents = True
            for uid in list(node.dependents):
                self.attempt_to_delete(uid)
            self.attempt_to_delete(node.identity.uid)


def _diff(old: list, new: list) -> tuple[list, list, list]:
    """(added, removed, changed pairs) between two ownerReferences lists, by uid."""
    before = {r.get("uid"): r for r in old}
    after = {r.get("uid"): r for r in new}
    added = [r for uid, r in after.items() if uid not in before]
    removed = [r for uid, r in before.items() if uid not in after]
    changed = [(before[uid], r) for uid, r in after.items()
               if uid in before and before[uid] != r]
    return added, removed, changed
