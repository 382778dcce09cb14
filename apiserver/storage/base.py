"""The storage contract every backend implements, and its errors.

Keys are (resource, namespace, name); ``resource`` is the qualified resource
(``pods``, ``deployments.apps``) and ``namespace`` is "" for cluster-scoped kinds.
Documents go in as dicts and come out as JSON text whose ``metadata.resourceVersion``
equals the revision of the write that produced it.

Errors here are storage facts; the generic Store turns them into API errors with the
resource's names (upstream: k8s.io/apiserver ``pkg/storage/errors.go``).

May import: the standard library.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


class StorageError(Exception):
    pass


class KeyExists(StorageError):
    pass


class KeyNotFound(StorageError):
    pass


class RevisionMismatch(StorageError):
    """The stored revision is not the one the write was conditioned on."""


class Compacted(StorageError):
    def __init__(self, requested: int, compacted: int):
        super().__init__(f"revision {requested} is compacted (at {compacted})")
        self.requested, self.compacted = requested, compacted


@dataclass
class ListResult:
    items: list[str] = field(default_factory=list)   # JSON documents, key order
    revision: int = 0                                # the snapshot the page was read at
    last_key: tuple[str, str] | None = None          # (namespace, name) of the last item
    more: bool = False                               # another page follows
    remaining: int | None = None                     # items after this page, when counted


@dataclass
class ChangeRecord:
    rv: int
    resource: str
    namespace: str
    name: str
    type: str          # ADDED | MODIFIED | DELETED
    doc: str
    prev: str | None = None   # the state before a MODIFIED (selector transitions need it)


class Storage(Protocol):
    # callables(rv) run after each committed write, and per resource after a write of it
    listeners: list
    resource_listeners: dict

    def get(self, resource: str, namespace: str, name: str) -> tuple[str, int] | None:
        """Current document and its revision, or None."""

    def create(self, resource: str, namespace: str, name: str, obj: dict) -> tuple[int, str]:
        """Insert; raises KeyExists.  Returns (revision, stored JSON)."""

    def update(self, resource: str, namespace: str, name: str, obj: dict,
               expected_rv: int) -> tuple[int, str]:
        """Replace iff the stored revision is ``expected_rv``; raises KeyNotFound or
        RevisionMismatch."""

    def delete(self, resource: str, namespace: str, name: str, expected_rv: int) -> tuple[int, str]:
        """Remove iff the stored revision is ``expected_rv``; returns the deletion's revision
        and the last state stamped with it."""

    def list(self, resource: str, namespace: str | None, *, after: tuple[str, str] | None = None,
             limit: int = 0, at: int | None = None) -> ListResult:
        """Objects in key order after ``after``; ``at`` reads as of that revision (raises
        Compacted when it is older than the compacted revision)."""

    def current_revision(self) -> int: ...

    def compacted_revision(self) -> int: ...

    def changes_after(self, rv: int, limit: int = 500, *, resource: str | None = None,
                      upto: int | None = None) -> list[ChangeRecord]:
        """Committed changes with revision > rv (≤ ``upto``; of one resource when given), in
        revision order, each MODIFIED with its previous state.  Raises Compacted when history
        after ``rv`` is no longer complete."""

    def compact(self, window_seconds: float) -> int:
        """Drop history older than the window; returns the new compacted revision."""
