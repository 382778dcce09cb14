"""Printer columns of custom resources: kubectl-style simple JSON paths and typed cells
(upstream kubernetes/apiextensions-apiserver:pkg/registry/customresource/tableconvertor)."""
from __future__ import annotations

import pytest

from crds.serving_columns import PathError, PrinterColumns, cell, find, parse_path

OBJ = {"metadata": {"name": "n", "labels": {"app.kubernetes.io/name": "web"},
                    "creationTimestamp": "2020-01-01T00:00:00Z"},
       "spec": {"replicas": 3, "ratio": 0.5, "on": True, "list": [{"a": 1}, {"a": 2}],
                "map": {"k": "v"}}}


@pytest.mark.parametrize("path, values", [
    (".spec.replicas", [3]),
    ("{.spec.replicas}", [3]),
    (".spec.list[1].a", [2]),
    (".spec.list[-1].a", [2]),
    (".spec.list[*].a", [1, 2]),
    (".metadata.labels['app.kubernetes.io/name']", ["web"]),
    (".metadata.labels.app\\.kubernetes\\.io/name", ["web"]),
    (".spec.missing", []),
    (".spec.list[7]", []),
])
def test_simple_paths(path, values):
    assert find(OBJ, parse_path(path)) == values


def test_a_bad_path_is_refused():
    with pytest.raises(PathError):
        parse_path(".spec[")


@pytest.mark.parametrize("column_type, value, expected", [
    ("string", "x", "x"), ("string", 3, "3"), ("string", True, "true"),
    ("string", {"k": "v"}, '{"k":"v"}'), ("string", 2.0, "2"),
    ("integer", 3, 3), ("integer", 2.7, 2), ("integer", "3", None), ("integer", True, None),
    ("number", 3, 3.0), ("boolean", True, True), ("boolean", "true", None),
    ("date", "not a date", "<invalid>"), ("string", None, None),
])
def test_cells_are_typed_as_the_column_declares(column_type, value, expected):
    assert cell(column_type, value) == expected


def test_columns_name_first_and_age_by_default():
    default = PrinterColumns(None)
    assert [c.name for c in default.columns] == ["Name", "Age"]
    assert default.columns[1].type == "date"
    row = default.row(OBJ)
    assert row[0] == "n" and row[1].endswith(("y", "d"))
    declared = PrinterColumns([{"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
                               {"name": "Bad", "type": "string", "jsonPath": ".spec["}])
    assert [c.name for c in declared.columns] == ["Name", "Replicas", "Bad"]
    assert declared.columns[1].description == \
        "Custom resource definition column (in JSONPath format): .spec.replicas"
    assert declared.row(OBJ) == ["n", 3, None]
