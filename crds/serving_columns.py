"""Table columns of a custom resource: ``additionalPrinterColumns`` and their cells.

Upstream: kubernetes/apiextensions-apiserver:pkg/registry/customresource/tableconvertor/
tableconvertor.go.  The Table is always Name first, then one column per declared printer
column; a version that declares none gets upstream's defaulted Age column
(``.metadata.creationTimestamp`` as a date; pkg/apis/apiextensions/v1/defaults.go).  A
column's ``jsonPath`` is a *simple* JSON path (kubectl style: ``.spec.replicas``,
``.status.conditions[0].type``, ``.metadata.labels['app\\.kubernetes\\.io/name']``); a path
that does not resolve gives an empty (null) cell, never an error.

May import: apiserver.registry, the standard library.
"""
from __future__ import annotations

import json
import re

from apiserver.registry.printers import parse_time, since
from apiserver.registry.strategy import NAME_COLUMN, Column

AGE_DESCRIPTION = ("CreationTimestamp is a timestamp representing the server time when this "
                   "object was created.")
DEFAULT_COLUMNS = ({"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp",
                    "description": AGE_DESCRIPTION},)

_STEP = re.compile(r"""\.((?:[^.\[\\]|\\.)+)      # .key (backslash escapes a dot)
                     |\[\s*(-?\d+|\*)\s*\]        # [0], [-1], [*]
                     |\[\s*'((?:[^'\\]|\\.)*)'\s*\] # ['key']
                     |\[\s*"((?:[^"\\]|\\.)*)"\s*\]""", re.X)


class PathError(ValueError):
    pass


class _Every:
    """The ``[*]`` step: every element of a list (every value of an object)."""

    def __repr__(self) -> str:
        return "[*]"


EVERY = _Every()


def parse_path(path: str) -> list:
    """Steps of a simple JSON path: str keys, int indexes and :data:`EVERY`."""
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    if text.startswith("$"):
        text = text[1:]
    steps, pos = [], 0
    while pos < len(text):
        m = _STEP.match(text, pos)
        if m is None:
            raise PathError(f"unrecognized column definition {path!r}")
        key, index, quoted, dquoted = m.groups()
        if key is not None:
            steps.append(re.sub(r"\\(.)", r"\1", key))
        elif index is not None:
            steps.append(EVERY if index == "*" else int(index))
        else:
            steps.append(re.sub(r"\\(.)", r"\1", quoted if quoted is not None else dquoted))
        pos = m.end()
    return steps


def find(obj, steps: list) -> list:
    """Every value ``steps`` reaches in ``obj`` (missing keys reach nothing)."""
    current = [obj]
    for step in steps:
        nxt = []
        for value in current:
            if isinstance(step, str):
                if isinstance(value, dict) and step in value:
                    nxt.append(value[step])
            elif step is EVERY:
                if isinstance(value, list):
                    nxt.extend(value)
                elif isinstance(value, dict):
                    nxt.extend(value.values())
            elif isinstance(value, list) and -len(value) <= step < len(value):
                nxt.append(value[step])
        current = nxt
    return current


def _text(value) -> str:
    """How kubectl's jsonpath printer writes a value (client-go util/jsonpath)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


def cell(column_type: str, value):
    """One cell, typed as the column declares (upstream ``cellForJSONValue``); None when the
    value does not fit the type."""
    if value is None:
        return None
    if column_type == "string":
        return _text(value)
    if column_type == "integer" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    if column_type == "number" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if column_type == "boolean" and isinstance(value, bool):
        return value
    if column_type == "date" and isinstance(value, str):
        return since(value) if parse_time(value) is not None else "<invalid>"
    return None


class PrinterColumns:
    """The Table definition of one served version: ``columns`` for the Strategy and
    ``row(obj)`` for its ``table_row`` hook."""

    def __init__(self, declared: list | None):
        declared = list(declared or ()) or list(DEFAULT_COLUMNS)
        self.columns = [NAME_COLUMN]
        self.paths: list = []
        for col in declared:
            path = col.get("jsonPath", "")
            try:
                steps = parse_path(path)
            except PathError:
                steps = None          # upstream keeps the column and leaves its cells empty
            self.paths.append((col.get("type", "string"), steps))
            self.columns.append(Column(
                col.get("name", ""), col.get("type", "string"), col.get("format", ""),
                col.get("description") or
                f"Custom resource definition column (in JSONPath format): {path}",
                int(col.get("priority") or 0)))

    def row(self, obj: dict) -> list:
        cells = [(obj.get("metadata") or {}).get("name", "")]
        for column_type, steps in self.paths:
            found = find(obj, steps) if steps is not None else []
            cells.append(cell(column_type, found[0]) if found else None)
        return cells
