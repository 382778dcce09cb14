"""The reads of one RBAC kind's rows, each a single SQL statement.

A document is an object row plus its child rows (rules or subjects).  Reading them in two
statements could mix two versions of an object (a write landing in between), so every read
here is one statement — the object rows LEFT JOINed with their children — and sees one
snapshot, as SQLStorage's reads do (apiserver/storage/sql.py).

Cluster-scoped tables have no namespace column; they are read through a derived table whose
``namespace`` is always '', so keys are (namespace, name) everywhere and SQLStorage's scope
and paging fragments apply unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass

import orjson

from apiserver.storage.sql import _scope

from .storage_layout import Ident, Shape, join


@dataclass
class Row:
    """One object as read: its key, revision, primary key and document text."""

    namespace: str
    name: str
    rv: int
    pk: int
    doc: str


class Table:
    """SQL over one kind's object table and child table, and the decoding of its rows."""

    def __init__(self, model, child, fk: str, shape: Shape):
        self.model, self.child, self.shape = model, child, shape
        self.fk = fk
        table, child_table = model._meta.db_table, child._meta.db_table
        self.source = table if shape.namespaced else (
            f"(SELECT t.*, CAST('' AS VARCHAR(63)) AS namespace FROM {table} t)")
        self.columns = [f.column for f in shape.object_fields()] + ["metadata_rest", "rest",
                                                                     "layout"]
        self.child_columns = [f.column for f in shape.child_fields]
        json_columns = shape.json_columns()
        self._json = [c in json_columns for c in self.columns]
        self._child_json = [f.type == "json" for f in shape.child_fields]
        fk_column = child._meta.get_field(fk).column
        selected = ", ".join(["o.id", "o.namespace", "o.name", "o.resource_version"]
                             + [f"o.{c}" for c in self.columns]
                             + ["c.position"] + [f"c.{c}" for c in self.child_columns])
        self._select = selected
        self._join = f"LEFT JOIN {child_table} c ON c.{fk_column} = o.id"
        self._order = "ORDER BY o.namespace, o.name, c.position"

    # ---- statements ----------------------------------------------------------------------
    def get_sql(self) -> str:
        return (f"SELECT {self._select} FROM {self.source} o {self._join} "
                f"WHERE o.namespace = %s AND o.name = %s {self._order}")

    def list_sql(self, namespace, after, limit: int) -> tuple[str, list]:
        """The current revision, (with a limit) how many objects the scope holds after
        ``after``, and the page's rows — one statement, so one snapshot."""
        where, params = _scope(namespace, after, "o.")
        lim = f" LIMIT {int(limit) + 1}" if limit else ""
        count, count_params = "NULL", []
        if limit:
            count = f"(SELECT COUNT(*) FROM {self.source} o WHERE 1 = 1{where})"
            count_params = list(params)
        sql = (f"SELECT rev.rv, {count}, {self._select} FROM apiserver_revision rev "
               f"LEFT JOIN (SELECT * FROM {self.source} o WHERE 1 = 1{where} "
               f"ORDER BY o.namespace, o.name{lim}) o ON 1 = 1 {self._join} "
               f"WHERE rev.id = 1 {self._order}")
        return sql, count_params + params

    def unchanged_sql(self, namespace, after, limit: int, at: int) -> tuple[str, list]:
        """Objects whose row is not newer than ``at`` (their state as of ``at``)."""
        where, params = _scope(namespace, after, "o.")
        lim = f" LIMIT {int(limit) + 1}" if limit else ""
        sql = (f"SELECT {self._select} FROM (SELECT * FROM {self.source} o "
               f"WHERE o.resource_version <= %s{where} ORDER BY o.namespace, o.name{lim}) o "
               f"{self._join} {self._order}")
        return sql, [at] + params

    def count_unchanged_sql(self, namespace, after, at: int) -> tuple[str, list]:
        where, params = _scope(namespace, after, "o.")
        return (f"SELECT COUNT(*) FROM {self.source} o WHERE o.resource_version <= %s{where}",
                [at] + params)

    # ---- decoding ------------------------------------------------------------------------
    def documents(self, rows, skip: int = 0) -> list[Row]:
        """Group joined rows (each ``skip`` leading columns ignored) into documents."""
        out: list[Row] = []
        n = 4 + len(self.columns)
        current = None
        children: list = []
        for raw in rows:
            raw = raw[skip:]
            if raw[0] is None:            # the revision row with an empty page
                continue
            if current is None or raw[0] != current[0]:
                if current is not None:
                    out.append(self._document(current, children))
                current, children = raw[:n], []
            if raw[n] is not None:
                children.append(raw[n + 1:])
        if current is not None:
            out.append(self._document(current, children))
        return out

    def _document(self, head, children) -> Row:
        pk, namespace, name, rv = head[:4]
        values = {c: (orjson.loads(v) if j and v is not None else v)
                  for c, j, v in zip(self.columns, self._json, head[4:])}
        child_values = [{c: (orjson.loads(v) if j and v is not None else v)
                         for c, j, v in zip(self.child_columns, self._child_json, child)}
                        for child in children]
        doc = join(values, child_values, self.shape, Ident(namespace, name, rv))
        return Row(namespace, name, rv, pk, orjson.dumps(doc).decode())
