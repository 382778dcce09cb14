"""The CEL type checker (apiserver/cel/typecheck.py) over hand-made schemas, as upstream's
typechecking_test.go builds them: undefined fields with cel-go's text and caret, scalar
operator mismatches, maps, lists and macro variables, int-or-string and has()."""
from __future__ import annotations

from apiserver.cel import decltypes, typecheck


def env_for(schema: dict, **extra) -> dict:
    t = decltypes.decl_type(schema, lambda name: None, root=True)
    return {"object": t, "oldObject": t, "request": decltypes.REQUEST, **extra}


def issues(expression: str, schema: dict, **extra):
    return typecheck.check_expression(expression, env_for(schema, **extra))[0]


OBJ = {"type": "object", "properties": {
    "foo": {"type": "string"}, "count": {"type": "integer", "format": "int64"},
    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
    "items": {"type": "array", "items": {"type": "object", "properties": {
        "name": {"type": "string"}}}},
    "port": {"format": "int-or-string", "oneOf": [{"type": "integer"}, {"type": "string"}]},
    "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    "open": {"type": "object", "additionalProperties": True,
             "properties": {"text": {"type": "string"}}},
    "qty": {"oneOf": [{"type": "string"}, {"type": "number"}]},
    "my-field": {"type": "string"}, "namespace": {"type": "string"},
    "when": {"type": "string", "format": "date-time"},
}}


def test_a_declared_field_passes():
    assert issues("object.foo == 'bar'", OBJ) is None
    assert issues("object.metadata.name.startsWith('a') && object.kind == 'X'", OBJ) is None


def test_an_undefined_field_has_cel_gos_text_and_caret():
    assert issues("object.bar == 'foo'", OBJ) == (
        "ERROR: <input>:1:7: undefined field 'bar'\n | object.bar == 'foo'\n | ......^")


def test_has_checks_its_field():
    assert issues("has(object.foo)", OBJ) is None
    assert issues("has(object.nope)", OBJ) == (
        "ERROR: <input>:1:4: undefined field 'nope'\n | has(object.nope)\n | ...^")


def test_a_type_mismatch_names_the_overload():
    assert issues("object.foo == 1", OBJ) == (
        "ERROR: <input>:1:12: found no matching overload for '_==_' applied to "
        "'(string, int)'\n | object.foo == 1\n | ...........^")
    assert "'_+_' applied to '(string, int)'" in issues("object.foo + 114514", OBJ)
    assert issues("object.count > 1.5 && object.count < 3u", OBJ) is None   # cross numeric


def test_maps_lists_and_macro_variables():
    assert issues("object.labels.anything == 'x' && object.labels['a'] == 'b'", OBJ) is None
    assert issues("object.items.all(i, i.name != '')", OBJ) is None
    assert issues("object.items.exists(i, i.nam == 'a')", OBJ) == (
        "ERROR: <input>:1:25: undefined field 'nam'\n"
        " | object.items.exists(i, i.nam == 'a')\n | ........................^")
    assert issues("object.items.map(i, i.name).filter(n, n.size() > 1).size() > 0", OBJ) is None
    assert issues("object.items[0].name == 'a'", OBJ) is None


def test_dynamic_values_check_nothing():
    assert issues("object.port.whatever == 1 && object.port > 2", OBJ) is None
    assert issues("params.anything.at.all", OBJ, params=decltypes.DYN) is None
    # additionalProperties: true keeps the declared properties (upstream's reproducer)
    assert issues("has(object.open.text)", OBJ) is None


def test_fields_not_exposed_to_cel_are_undefined():
    # unknown fields of a preserve-unknown-fields object, an untyped (Quantity-like) node
    assert "undefined field 'x'" in issues("object.free.x == 1", OBJ)
    assert "undefined field 'qty'" in issues("object.qty == '1'", OBJ)


def test_property_names_are_escaped():
    assert issues("object.my__dash__field == 'a' && object.__namespace__ == 'b'", OBJ) is None
    assert "undefined field 'namespace'" in issues("object.namespace == 'b'", OBJ)


def test_scalars_do_not_support_selection():
    assert issues("object.count.value", OBJ) == (
        "ERROR: <input>:1:13: type 'int' does not support field selection\n"
        " | object.count.value\n | ............^")


def test_request_is_typed():
    assert issues("request.userInfo.username == 'a' && request.operation == 'CREATE'",
                  OBJ) is None
    assert "undefined field 'verb'" in issues("request.verb == 'get'", OBJ)


def test_every_issue_is_reported_in_position_order():
    found = issues("object.b == 1 ||\n  object.a == 2", OBJ)
    assert found == ("ERROR: <input>:1:7: undefined field 'b'\n | object.b == 1 ||\n | ......^\n"
                     "ERROR: <input>:2:9: undefined field 'a'\n |   object.a == 2\n"
                     " | ........^")


def test_an_expression_cel_python_cannot_parse_has_no_issues():
    assert issues("object.?foo.orValue('') == ''", OBJ) is None


def test_a_schema_without_type_and_the_root_metadata():
    # the root always has kind, apiVersion and metadata.name/generateName
    assert decltypes.decl_type({}, lambda n: None, root=True) is None
    assert issues("object.metadata.generateName == ''", {"type": "object"}) is None
    assert "undefined field 'labels'" in issues("object.metadata.labels == {}",
                                                {"type": "object"})


def test_references_resolve_and_a_cycle_is_an_empty_object():
    defs = {"A": {"type": "object", "properties": {"b": {"$ref": "#/components/schemas/B"}}},
            "B": {"type": "object", "properties": {
                "a": {"allOf": [{"$ref": "#/components/schemas/A"}]},
                "n": {"type": "integer"}}}}
    t = decltypes.decl_type(defs["A"], defs.get, root=True, path=frozenset({"A"}))
    env = {"object": t}
    assert typecheck.check_expression("object.b.n > 1", env)[0] is None
    assert "undefined field 'b'" in typecheck.check_expression("object.b.a.b == 1", env)[0]
