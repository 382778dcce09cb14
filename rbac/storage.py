"""RBACStorage: Roles, ClusterRoles and their bindings kept as relational rows
(``rbac.models``) behind the Storage protocol (apiserver/storage/base.py).

It is a :class:`~apiserver.storage.sql.SQLStorage` that keeps these four resources in their
own tables instead of the document table, and shares everything else with it:

* the same revision row and change log: a write is SQLStorage's transaction (bump the
  revision row, whose lock is held until COMMIT so revisions are commit-ordered; write the
  rows; append the change row with the full JSON document; PostgreSQL NOTIFY on the bump),
  and its ``listeners`` (the list given at construction: the document storage's, so the watch
  cache and in-process controllers hear of these commits too) run after the commit;
* ``changes_after``, the revisions, compaction (the change log's) and the history half of a
  list "as of" a revision are SQLStorage's own code;
* documents come back byte for byte as the document store would return them: the text a
  write returns is SQLStorage's stamping of the written object, and reads rebuild that text
  from the rows (``rbac.storage_layout``).

Any other resource is left to SQLStorage's document table, so a storage factory may hand this
class resources it does not model without losing them.  Upstream keeps RBAC objects in etcd
like any other kind (kubernetes/kubernetes:pkg/registry/rbac/rest/storage_rbac.go); the rows
are this server's choice, for the Django admin.
"""
from __future__ import annotations

import orjson
from django.db import IntegrityError, connection

from apiserver.storage.base import Compacted, KeyExists, ListResult, StorageError
from apiserver.storage.sql import SQLStorage, _stamp

from .storage_layout import CLUSTER_ROLE, CLUSTER_ROLE_BINDING, ROLE, ROLE_BINDING, Ident, split
from .storage_sql import Table

GROUP = "rbac.authorization.k8s.io"
RESOURCES = tuple(f"{plural}.{GROUP}" for plural in
                  ("roles", "clusterroles", "rolebindings", "clusterrolebindings"))


class _Abort(Exception):
    """Rolls a write transaction back (its revision bump included)."""


def tables() -> dict[str, Table]:
    """resource → :class:`Table` of the four kinds."""
    from . import models as m

    return {
        f"roles.{GROUP}": Table(m.Role, m.PolicyRule, "role", ROLE),
        f"clusterroles.{GROUP}": Table(m.ClusterRole, m.PolicyRule, "cluster_role", CLUSTER_ROLE),
        f"rolebindings.{GROUP}": Table(m.RoleBinding, m.Subject, "role_binding", ROLE_BINDING),
        f"clusterrolebindings.{GROUP}": Table(m.ClusterRoleBinding, m.Subject,
                                              "cluster_role_binding", CLUSTER_ROLE_BINDING),
    }


def _key_of(doc: str, namespaced: bool) -> tuple[str, str]:
    """The key of a document rebuilt from the change log (whose metadata names its key, as
    every document the Store writes does)."""
    meta = orjson.loads(doc).get("metadata") or {}
    return (meta.get("namespace", "") if namespaced else ""), meta.get("name", "")


class RBACStorage(SQLStorage):
    """The four RBAC resources as rows; ``listeners`` should be the document storage's list
    (one set of post-commit listeners for the one change log)."""

    def __init__(self, listeners: list | None = None):
        super().__init__(listeners)
        self.tables = tables()

    # ---- reads ----------------------------------------------------------------------------
    def _read_one(self, table: Table, namespace: str, name: str):
        with connection.cursor() as cur:
            cur.execute(table.get_sql(), [namespace, name])
            found = table.documents(cur.fetchall())
        return found[0] if found else None

    def get(self, resource, namespace, name):
        table = self.tables.get(resource)
        if table is None:
            return super().get(resource, namespace, name)
        row = self._read_one(table, namespace, name)
        return (row.doc, row.rv) if row else None

    def list(self, resource, namespace, *, after=None, limit=0, at=None) -> ListResult:
        table = self.tables.get(resource)
        if table is None:
            return super().list(resource, namespace, after=after, limit=limit, at=at)
        if at is not None:
            return self._list_rows_at(table, resource, namespace, after, limit, at)
        sql, params = table.list_sql(namespace, after, limit)
        with connection.cursor() as cur:
            cur.execute(sql, params)
            rows = cur.fetchall()
        result = ListResult(revision=rows[0][0])
        total = rows[0][1]
        items = [(r.namespace, r.name, r.doc) for r in table.documents(rows, skip=2)]
        return self._page(result, items, limit, total)

    def _list_rows_at(self, table: Table, resource, namespace, after, limit, at) -> ListResult:
        """As of ``at``: the rows untouched since ``at``, plus, for every key changed after
        ``at``, its state at ``at`` rebuilt from the change log.  The rows are read first,
        so an object that changes between the two reads is found by both, with the same
        as-of-``at`` document (SQLStorage._list_at reads in the same order)."""
        compacted = self.compacted_revision()
        if at < compacted:
            raise Compacted(at, compacted)
        sql, params = table.unchanged_sql(namespace, after, limit, at)
        with connection.cursor() as cur:
            cur.execute(sql, params)
            unchanged = table.documents(cur.fetchall())
        # SQLStorage's rebuild from the change log (and its compaction checks); the document
        # table holds no rows of these resources, so all it returns is rebuilt history
        rebuilt = super()._list_at(resource, namespace, after, 0, at).items
        merged = {(r.namespace, r.name): r.doc for r in unchanged}
        rebuilt_keys = set()
        for doc in rebuilt:
            key = _key_of(doc, table.shape.namespaced)
            rebuilt_keys.add(key)
            merged[key] = doc
        items = sorted((k[0], k[1], d) for k, d in merged.items())
        total = len(items)
        if limit and len(unchanged) > limit:
            sql, params = table.count_unchanged_sql(namespace, after, at)
            with connection.cursor() as cur:
                cur.execute(sql, params)
                unchanged_total = cur.fetchone()[0]
            total = unchanged_total + len(rebuilt_keys - {(r.namespace, r.name) for r in unchanged})
        return self._page(ListResult(revision=at), items, limit, total)

    # ---- writes ---------------------------------------------------------------------------
    @staticmethod
    def _scoped(table: Table, namespace: str) -> dict:
        if table.shape.namespaced:
            return {"namespace": namespace}
        if namespace:
            raise StorageError(f"{table.model.__name__} is cluster-scoped: no namespace "
                               f"{namespace!r}")
        return {}

    def _write_rows(self, table: Table, namespace: str, name: str, rv: int, obj: dict,
                    pk: int | None) -> None:
        """Insert (``pk`` None) or replace the rows of ``obj`` at revision ``rv``."""
        values, children = split(obj, table.shape, Ident(namespace, name, rv))
        owner = f"{table.fk}_id"
        kept = []
        if pk is None:
            parent = table.model.objects.create(name=name, resource_version=rv,
                                                **self._scoped(table, namespace), **values)
            pk = parent.pk
        else:
            table.model.objects.filter(pk=pk).update(resource_version=rv, **values)
            # child rows keep their ids position by position (an admin form open on them
            # stays valid); surplus rows go, missing ones are added below
            rows = table.child.objects.filter(**{owner: pk})
            rows.filter(position__gte=len(children)).delete()
            kept = list(rows.filter(position__lt=len(children)).order_by("position"))
            for row in kept:
                for column, value in children[row.position].items():
                    setattr(row, column, value)
            if kept:
                table.child.objects.bulk_update(kept, list(children[0]))
        table.child.objects.bulk_create(
            table.child(**{owner: pk, "position": i, **child})
            for i, child in enumerate(children) if i >= len(kept))

    def _current(self, table: Table, namespace: str, name: str, expected_rv: int):
        """The stored row if its revision is ``expected_rv`` (else the write aborts).  Inside
        a write transaction no other writer can change it: they all queue on the revision
        row this transaction has bumped."""
        row = self._read_one(table, namespace, name)
        if row is None or row.rv != expected_rv:
            raise _Abort()
        return row

    def create(self, resource, namespace, name, obj):
        table = self.tables.get(resource)
        if table is None:
            return super().create(resource, namespace, name, obj)
        self._scoped(table, namespace)
        try:
            with self._write(resource, namespace, name) as (_cur, rv, log):
                doc = _stamp(obj, rv)
                self._write_rows(table, namespace, name, rv, obj, None)
                log("ADDED", doc)
        except IntegrityError:
            raise KeyExists(name) from None
        return rv, doc

    def update(self, resource, namespace, name, obj, expected_rv):
        table = self.tables.get(resource)
        if table is None:
            return super().update(resource, namespace, name, obj, expected_rv)
        try:
            with self._write(resource, namespace, name) as (_cur, rv, log):
                row = self._current(table, namespace, name, expected_rv)
                doc = _stamp(obj, rv)
                self._write_rows(table, namespace, name, rv, obj, row.pk)
                log("MODIFIED", doc)
        except _Abort:
            raise self._missing_or_moved(resource, namespace, name) from None
        return rv, doc

    def delete(self, resource, namespace, name, expected_rv):
        table = self.tables.get(resource)
        if table is None:
            return super().delete(resource, namespace, name, expected_rv)
        try:
            with self._write(resource, namespace, name) as (_cur, rv, log):
                row = self._current(table, namespace, name, expected_rv)
                table.child.objects.filter(**{f"{table.fk}_id": row.pk}).delete()
                table.model.objects.filter(pk=row.pk).delete()
                # the DELETED event carries the last state stamped with the deletion's rv
                doc = _stamp(orjson.loads(row.doc), rv)
                log("DELETED", doc)
        except _Abort:
            raise self._missing_or_moved(resource, namespace, name) from None
        return rv, doc


def for_default_storage(default) -> RBACStorage | None:
    """The storage factory apps register (``apiserver.storage.overrides``): an RBACStorage
    sharing ``default``'s listeners — only over a SQLStorage, whose revision row and change
    log these rows join; over any other default storage RBAC stays in that storage."""
    if not isinstance(default, SQLStorage):
        return None
    return RBACStorage(listeners=default.listeners)
