"""The SQL storage backend (PostgreSQL and SQLite through Django's connection).

Raw SQL on Django's cursor: each write is one transaction of three statements after BEGIN
(bump the revision row, write the object row, append the change row).  The revision row's
lock is held from the bump to COMMIT, so revisions are assigned in commit order; that is
what lets the watch cache read ``rv > last`` without gaps.  An auto-increment id, by
contrast, is taken when the insert starts but seen only at commit, so a late commit looks like
a gap (k3s-io/kine:pkg/logstructured/sqllog/sql.go has to detect and fill those).

Reads run outside explicit transactions: each statement sees one snapshot, and every list
reads the current revision in the same statement as its rows.

May import: django.db, orjson, apiserver.storage.base.
"""
from __future__ import annotations

import contextlib
import time

import orjson
from django.db import IntegrityError, connection, transaction

from apiserver.storage.base import (ChangeRecord, Compacted, KeyExists, KeyNotFound, ListResult,
                                    RevisionMismatch)

_BUMP = "UPDATE apiserver_revision SET rv = rv + 1 WHERE id = 1 RETURNING rv"
# On PostgreSQL the same statement queues a NOTIFY (sent at COMMIT) that wakes the watch
# caches of other server processes: no extra round trip.  It only wakes; the log is the truth.
NOTIFY_CHANNEL = "apiserver_changes"
_BUMP_PG = ("UPDATE apiserver_revision SET rv = rv + 1 WHERE id = 1 "
            f"RETURNING rv, pg_notify('{NOTIFY_CHANNEL}', '')")


def _bump_sql() -> str:
    return _BUMP_PG if connection.vendor == "postgresql" else _BUMP
_LOG = ("INSERT INTO apiserver_change (rv, resource, namespace, name, type, doc, created) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s)")


class _Abort(Exception):
    """Raised inside a write transaction to roll it back (the counter bump included)."""


def _stamp(obj: dict, rv: int) -> str:
    obj.setdefault("metadata", {})["resourceVersion"] = str(rv)
    return orjson.dumps(obj).decode()


def _scope(namespace: str | None, after: tuple[str, str] | None, t: str = "") -> tuple[str, list]:
    """WHERE fragment for one namespace (None: all) and keys after ``after``; ``t`` is a
    table alias prefix such as ``"c."``."""
    sql, params = "", []
    if namespace is not None:
        sql += f" AND {t}namespace = %s"
        params.append(namespace)
    if after is not None:
        sql += f" AND ({t}namespace > %s OR ({t}namespace = %s AND {t}name > %s))"
        params += [after[0], after[0], after[1]]
    return sql, params


class SQLStorage:
    """Storage on the Django default database.

    ``before_commit`` (tests only) is called inside every write transaction after the
    revision is taken, to force slow commits and prove commit order equals revision order.
    """

    before_commit = None

    def __init__(self, listeners: list | None = None):
        # callables(rv) run after each committed write (the watch cache's and in-process
        # controllers' wake-up); storages given the same list wake the same listeners
        self.listeners = listeners if listeners is not None else []
        # resource -> callables(rv) run after a committed write of that resource (in-process
        # caches of a few kinds, apiserver/registry/followed.py)
        self.resource_listeners: dict[str, list] = {}

    # ---- reads ----------------------------------------------------------------------------
    def get(self, resource, namespace, name):
        with connection.cursor() as cur:
            cur.execute("SELECT doc, rv FROM apiserver_object "
                        "WHERE resource = %s AND namespace = %s AND name = %s",
                        [resource, namespace, name])
            row = cur.fetchone()
        return (row[0], row[1]) if row else None

    def current_revision(self) -> int:
        with connection.cursor() as cur:
            cur.execute("SELECT rv FROM apiserver_revision WHERE id = 1")
            return cur.fetchone()[0]

    def compacted_revision(self) -> int:
        with connection.cursor() as cur:
            cur.execute("SELECT compacted FROM apiserver_revision WHERE id = 1")
            return cur.fetchone()[0]

    def list(self, resource, namespace, *, after=None, limit=0, at=None) -> ListResult:
        if at is not None:
            return self._list_at(resource, namespace, after, limit, at)
        where, params = _scope(namespace, after)
        lim = f" LIMIT {int(limit) + 1}" if limit else ""
        # One statement: the revision row and the page come from the same snapshot.
        # One statement: the revision row, the page (and, for a limited page, how many rows
        # the scope holds after `after`) come from the same snapshot.
        count = ""
        args = [resource] + params
        if limit:
            count = ("UNION ALL SELECT 2, COUNT(*), '', '', '' FROM apiserver_object "
                     f"WHERE resource = %s{where} ")
            args += [resource] + params
        sql = ("SELECT 0, rv, '', '', '' FROM apiserver_revision WHERE id = 1 UNION ALL "
               "SELECT * FROM (SELECT 1, rv, namespace, name, doc FROM apiserver_object "
               f"WHERE resource = %s{where} ORDER BY namespace, name{lim}) page {count}")
        with connection.cursor() as cur:
            cur.execute(sql, args)
            rows = cur.fetchall()
        result = ListResult()
        items = []
        total = None
        for tag, rv, ns, name, doc in rows:
            if tag == 0:
                result.revision = rv
            elif tag == 2:
                total = rv
            else:
                items.append((ns, name, doc))
        items.sort(key=lambda r: (r[0], r[1]))
        return self._page(result, items, limit, total)

    @staticmethod
    def _page(result: ListResult, items: list, limit: int, total: int | None = None) -> ListResult:
        if limit and len(items) > limit:
            if total is None:
                total = len(items)
            items = items[:limit]
            result.more = True
            result.remaining = max(total - limit, 0)
        result.items = [doc for _, _, doc in items]
        if items:
            result.last_key = (items[-1][0], items[-1][1])
        return result

    def _list_at(self, resource, namespace, after, limit, at) -> ListResult:
        compacted = self.compacted_revision()
        if at < compacted:
            raise Compacted(at, compacted)
        where, params = _scope(namespace, after)
        lim = f" LIMIT {int(limit) + 1}" if limit else ""
        with connection.cursor() as cur:
            # Objects untouched since `at` are current rows with rv <= at ...
            cur.execute("SELECT namespace, name, doc FROM apiserver_object "
                        f"WHERE resource = %s{where} AND rv <= %s ORDER BY namespace, name{lim}",
                        [resource] + params + [at])
            unchanged = cur.fetchall()
            # ... the others are rebuilt from the log: their last change at or before `at`,
            # for every key changed after `at`.  Run second, so a key that changes between
            # the two statements shows up in both with the same (as-of-`at`) document.
            cwhere, _ = _scope(namespace, after, "c.")
            cur.execute(
                "SELECT c.namespace, c.name, c.type, c.doc FROM apiserver_change c "
                f"WHERE c.resource = %s{cwhere} "
                "AND c.rv = (SELECT MAX(p.rv) FROM apiserver_change p WHERE p.resource = c.resource "
                "  AND p.namespace = c.namespace AND p.name = c.name AND p.rv <= %s) "
                "AND EXISTS (SELECT 1 FROM apiserver_change n WHERE n.resource = c.resource "
                "  AND n.namespace = c.namespace AND n.name = c.name AND n.rv > %s)",
                [resource] + params + [at, at])
            rebuilt = cur.fetchall()
        # A compaction that ran between the check above and these reads may have removed
        # rows they needed (the object would silently be missing): 410 instead.
        compacted = self.compacted_revision()
        if at < compacted:
            raise Compacted(at, compacted)
        merged = {(ns, name): doc for ns, name, doc in unchanged}
        for ns, name, typ, doc in rebuilt:
            if typ == "DELETED":
                merged.pop((ns, name), None)
            else:
                merged[(ns, name)] = doc
        items = sorted(((k[0], k[1], d) for k, d in merged.items()), key=lambda r: (r[0], r[1]))
        total = len(items)
        if limit and len(unchanged) > limit:
            # `unchanged` was read with a limit: count the rest of it to report remaining items
            with connection.cursor() as cur:
                cur.execute(f"SELECT COUNT(*) FROM apiserver_object WHERE resource = %s{where} "
                            "AND rv <= %s", [resource] + params + [at])
                unchanged_total = cur.fetchone()[0]
            unchanged_keys = {(ns, name) for ns, name, _ in unchanged}
            rebuilt_live = {(ns, name) for ns, name, typ, _ in rebuilt if typ != "DELETED"}
            total = unchanged_total + len(rebuilt_live - unchanged_keys)
        return self._page(ListResult(revision=at), items, limit, total)

    def changes_after(self, rv, limit=500, *, resource=None, upto=None):
        where, params = "c.rv > %s", [rv]
        if resource is not None:
            where += " AND c.resource = %s"
            params.append(resource)
        if upto is not None:
            where += " AND c.rv <= %s"
            params.append(upto)
        # The previous state of a MODIFIED key is its change row just before (index on
        # resource, namespace, name, rv), fetched in the same snapshot.
        sql = ("SELECT c.rv, c.resource, c.namespace, c.name, c.type, c.doc, "
               "CASE WHEN c.type = 'MODIFIED' THEN (SELECT p.doc FROM apiserver_change p "
               "WHERE p.resource = c.resource AND p.namespace = c.namespace AND p.name = c.name "
               "AND p.rv < c.rv ORDER BY p.rv DESC LIMIT 1) END "
               f"FROM apiserver_change c WHERE {where} ORDER BY c.rv LIMIT %s")
        with connection.cursor() as cur:
            cur.execute(sql, params + [limit])
            rows = [ChangeRecord(*row) for row in cur.fetchall()]
        compacted = self.compacted_revision()
        if rv < compacted:
            # rows at or below the compacted revision may be missing: the caller must re-list
            raise Compacted(rv, compacted)
        return rows

    # ---- writes ---------------------------------------------------------------------------
    def _hook(self, rv: int) -> None:
        if self.before_commit is not None:
            self.before_commit(rv)

    def _committed(self, rv: int, resource: str = "") -> None:
        for listener in self.listeners:
            listener(rv)
        for listener in self.resource_listeners.get(resource, ()):
            listener(rv)

    @contextlib.contextmanager
    def _write(self, resource, namespace, name):
        """One write transaction: yields (cursor, new revision, log) where ``log(type, doc)``
        appends the change row.  The revision row stays locked until COMMIT (commit order =
        revision order); listeners hear of the revision only after the commit."""
        with transaction.atomic():
            with connection.cursor() as cur:
                cur.execute(_bump_sql())
                rv = cur.fetchone()[0]

                def log(event_type: str, doc: str) -> None:
                    cur.execute(_LOG, [rv, resource, namespace, name, event_type, doc, time.time()])
                    self._hook(rv)
                yield cur, rv, log
        self._committed(rv, resource)

    def _missing_or_moved(self, resource, namespace, name):
        return (KeyNotFound(name) if self.get(resource, namespace, name) is None
                else RevisionMismatch(name))

    def create(self, resource, namespace, name, obj):
        try:
            with self._write(resource, namespace, name) as (cur, rv, log):
                doc = _stamp(obj, rv)
                cur.execute("INSERT INTO apiserver_object (resource, namespace, name, rv, doc) "
                            "VALUES (%s, %s, %s, %s, %s)", [resource, namespace, name, rv, doc])
                log("ADDED", doc)
        except IntegrityError:
            raise KeyExists(name) from None
        return rv, doc

    def update(self, resource, namespace, name, obj, expected_rv):
        try:
            with self._write(resource, namespace, name) as (cur, rv, log):
                doc = _stamp(obj, rv)
                cur.execute("UPDATE apiserver_object SET rv = %s, doc = %s WHERE resource = %s "
                            "AND namespace = %s AND name = %s AND rv = %s",
                            [rv, doc, resource, namespace, name, expected_rv])
                if cur.rowcount != 1:
                    raise _Abort()
                log("MODIFIED", doc)
        except _Abort:
            raise self._missing_or_moved(resource, namespace, name) from None
        return rv, doc

    def delete(self, resource, namespace, name, expected_rv):
        try:
            with self._write(resource, namespace, name) as (cur, rv, log):
                cur.execute("SELECT doc FROM apiserver_object WHERE resource = %s AND "
                            "namespace = %s AND name = %s AND rv = %s",
                            [resource, namespace, name, expected_rv])
                row = cur.fetchone()
                if row is None:
                    raise _Abort()
                cur.execute("DELETE FROM apiserver_object WHERE resource = %s AND "
                            "namespace = %s AND name = %s", [resource, namespace, name])
                # The DELETED event carries the last state stamped with the deletion's rv.
                doc = _stamp(orjson.loads(row[0]), rv)
                log("DELETED", doc)
        except _Abort:
            raise self._missing_or_moved(resource, namespace, name) from None
        return rv, doc

    # ---- history --------------------------------------------------------------------------
    def compact(self, window_seconds: float) -> int:
        with connection.cursor() as cur:
            cur.execute("SELECT MAX(rv) FROM apiserver_change WHERE created < %s",
                        [time.time() - window_seconds])
            target = cur.fetchone()[0]
        if not target or target <= self.compacted_revision():
            return self.compacted_revision()
        # Publish the new floor first: from here on, reads older than `target` get 410, so
        # nobody can observe the partially deleted history below it.
        with transaction.atomic():
            with connection.cursor() as cur:
                cur.execute("UPDATE apiserver_revision SET compacted = %s WHERE id = 1 "
                            "AND compacted < %s", [target, target])
        with transaction.atomic():
            with connection.cursor() as cur:
                cur.execute(
                    "DELETE FROM apiserver_change WHERE rv <= %s AND (type = 'DELETED' OR EXISTS ("
                    "SELECT 1 FROM apiserver_change n WHERE n.resource = apiserver_change.resource "
                    "AND n.namespace = apiserver_change.namespace AND n.name = apiserver_change.name "
                    "AND n.rv > apiserver_change.rv AND n.rv <= %s))", [target, target])
        return target
