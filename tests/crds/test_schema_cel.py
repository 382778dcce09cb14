"""crds.schema.validate: x-kubernetes-validations (CEL), as apiextensions-apiserver's
``pkg/apiserver/schema/cel/validation.go`` reports them."""
from crds.schema import compile_schema, validate
from crds.schema import compiled


def obj(spec=None, **top):
    o = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    if spec is not None:
        o["spec"] = spec
    o.update(top)
    return o


def spec_with(rules, **props):
    return {"type": "object", "properties": {"spec": {
        "type": "object", "properties": props or {"replicas": {"type": "integer"},
                                                  "min": {"type": "integer"},
                                                  "name": {"type": "string"}},
        "x-kubernetes-validations": rules}}}


def texts(errs):
    return [e.error_text() for e in errs]


def test_failed_rule_default_message():
    s = spec_with([{"rule": "self.replicas >= self.min"}])
    assert validate(s, obj({"replicas": 3, "min": 1})) == []
    errs = validate(s, obj({"replicas": 0, "min": 1}))
    assert texts(errs) == ['spec: Invalid value: "object": failed rule: self.replicas >= self.min']
    assert errs[0].type == "FieldValueInvalid"


def test_message():
    s = spec_with([{"rule": "self.replicas >= self.min", "message": " replicas below min "}])
    assert texts(validate(s, obj({"replicas": 0, "min": 1}))) == [
        'spec: Invalid value: "object": replicas below min']


def test_message_expression():
    s = spec_with([{"rule": "self.replicas >= self.min", "message": "static",
                    "messageExpression": "'replicas ' + string(self.replicas) + ' < ' + string(self.min)"}])
    assert texts(validate(s, obj({"replicas": 0, "min": 2}))) == [
        'spec: Invalid value: "object": replicas 0 < 2']


def test_message_expression_falls_back_on_error_or_empty():
    s = spec_with([{"rule": "self.replicas > 0", "message": "static",
                    "messageExpression": "self.missing"},
                   {"rule": "self.replicas > 1", "messageExpression": "'  '"}])
    assert texts(validate(s, obj({"replicas": 0}))) == [
        'spec: Invalid value: "object": static',
        'spec: Invalid value: "object": failed rule: self.replicas > 1']


def test_reason_and_field_path():
    s = spec_with([{"rule": "self.replicas > 0", "reason": "FieldValueForbidden",
                    "fieldPath": ".replicas", "message": "must be positive"},
                   {"rule": "has(self.name)", "reason": "FieldValueRequired", "fieldPath": ".name",
                    "message": "name is needed"},
                   {"rule": "false", "reason": "FieldValueDuplicate"}])
    errs = validate(s, obj({"replicas": 0}))
    assert [(e.type, e.field) for e in errs] == [("FieldValueForbidden", "spec.replicas"),
                                                ("FieldValueRequired", "spec.name"),
                                                ("FieldValueDuplicate", "spec")]
    assert texts(errs) == ["spec.replicas: Forbidden: must be positive",
                           "spec.name: Required value: name is needed",
                           'spec: Duplicate value: "object"']


def test_field_path_bracket_and_map_keys():
    s = {"type": "object", "properties": {"spec": {
        "type": "object", "properties": {"labels": {"type": "object",
                                                    "additionalProperties": {"type": "string"}}},
        "x-kubernetes-validations": [{"rule": "false", "fieldPath": ".labels['a.b']"}]}}}
    assert texts(validate(s, obj({"labels": {}}))) == [
        'spec.labels[a.b]: Invalid value: "object": failed rule: false']


def test_root_rule_is_reported_at_nil_and_sees_name_only():
    s = {"type": "object", "properties": {"spec": {"type": "object",
                                                   "x-kubernetes-preserve-unknown-fields": True}},
         "x-kubernetes-validations": [{"rule": "self.metadata.name.startsWith('w')"},
                                      {"rule": "!has(self.metadata.labels)"},
                                      {"rule": "self.kind == 'Widget' && self.apiVersion == 'example.com/v1'"}]}
    assert validate(s, obj({}, metadata={"name": "w", "labels": {"a": "b"}})) == []
    assert texts(validate(s, obj({}, metadata={"name": "x"}))) == [
        "<nil>: Invalid value: \"object\": failed rule: self.metadata.name.startsWith('w')"]


def test_rule_on_scalar_and_items_paths():
    s = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "xs": {"type": "array", "items": {"type": "string",
                                          "x-kubernetes-validations": [{"rule": "self.size() < 3"}]}},
        "m": {"type": "object", "additionalProperties": {
            "type": "integer", "x-kubernetes-validations": [{"rule": "self > 0", "message": "positive"}]}}}}}}
    assert texts(validate(s, obj({"xs": ["ab", "abc"], "m": {"k": 0}}))) == [
        'spec.xs[1]: Invalid value: "string": failed rule: self.size() < 3',
        'spec.m[k]: Invalid value: "integer": positive']


def test_null_values_are_not_evaluated():
    s = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "v": {"type": "string", "nullable": True, "x-kubernetes-validations": [{"rule": "false"}]}}}}}
    assert validate(s, obj({"v": None})) == []


def test_evaluation_error():
    s = spec_with([{"rule": "self.missing == 1"}])
    assert texts(validate(s, obj({"replicas": 1}))) == [
        'spec: Invalid value: "object": no such key: missing evaluating rule: self.missing == 1']


def test_number_is_a_double():
    s = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "ratio": {"type": "number", "x-kubernetes-validations": [{"rule": "self < 1.5"}]}}}}}
    assert validate(s, obj({"ratio": 1})) == []
    assert len(validate(s, obj({"ratio": 2}))) == 1


def test_library_functions():
    s = spec_with([{"rule": "self.xs.isSorted() && self.xs.sum() == 6 && self.xs.max() == 3"},
                   {"rule": "self.name.lowerAscii().split('-').size() == 2"},
                   {"rule": "self.name.matches('^[A-Z]')"}],
                  xs={"type": "array", "items": {"type": "integer"}}, name={"type": "string"})
    assert validate(s, obj({"xs": [1, 2, 3], "name": "Ab-c"})) == []
    assert len(validate(s, obj({"xs": [3, 2, 1], "name": "ab"}))) == 3


def test_compile_error_is_reported():
    s = spec_with([{"rule": "self.replicas >"}, {"rule": "unknownVar == 1"}])
    errs = texts(validate(s, obj({"replicas": 1})))
    assert errs[0].startswith('spec: Invalid value: "object": rule compile error: compilation failed: '
                              "ERROR: <input>:1:")
    assert errs[1] == ('spec: Invalid value: "object": rule compile error: compilation failed: '
                       "ERROR: <input>:1:1: undeclared reference to 'unknownVar' (in container '')")


def test_blocking_schema_errors_skip_rules():
    s = spec_with([{"rule": "false"}], replicas={"type": "integer"})
    assert texts(validate(s, obj({"replicas": "x"}))) == [
        'spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"',
        '<nil>: Invalid value: "null": some validation rules were not checked because the object was '
        'invalid; correct the existing errors to complete validation']


def test_non_blocking_schema_errors_still_run_rules():
    s = spec_with([{"rule": "false"}], replicas={"type": "integer", "minimum": 5})
    assert texts(validate(s, obj({"replicas": 1}))) == [
        "spec.replicas: Invalid value: 1: spec.replicas in body should be greater than or equal to 5",
        'spec: Invalid value: "object": failed rule: false']


# ---------------------------------------------------------------- transition rules

def immutable_schema():
    return {"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "name": {"type": "string", "x-kubernetes-validations": [
            {"rule": "self == oldSelf", "message": "name is immutable"}]},
        "items": {"type": "array", "x-kubernetes-list-type": "map",
                  "x-kubernetes-list-map-keys": ["k"],
                  "items": {"type": "object", "properties": {"k": {"type": "string"},
                                                             "v": {"type": "integer"}},
                            "x-kubernetes-validations": [{"rule": "self.v >= oldSelf.v",
                                                          "message": "v may only grow"}]}},
        "plain": {"type": "array", "items": {"type": "integer",
                                             "x-kubernetes-validations": [{"rule": "self == oldSelf"}]}}}}}}


def test_transition_rule_skipped_on_create():
    assert validate(immutable_schema(), obj({"name": "a", "items": [{"k": "a", "v": 1}],
                                             "plain": [1]})) == []


def test_transition_rule_on_update():
    s = immutable_schema()
    old = obj({"name": "a"})
    assert validate(s, obj({"name": "a"}), old) == []
    assert texts(validate(s, obj({"name": "b"}), old)) == [
        'spec.name: Invalid value: "string": name is immutable']


def test_transition_rule_skipped_when_field_is_new():
    assert validate(immutable_schema(), obj({"name": "b"}), obj({})) == []


def test_transition_rule_in_list_map_correlates_by_key():
    s = immutable_schema()
    old = obj({"items": [{"k": "a", "v": 5}, {"k": "b", "v": 1}]})
    assert validate(s, obj({"items": [{"k": "b", "v": 2}, {"k": "a", "v": 5}, {"k": "c", "v": 0}]}),
                    old) == []
    assert texts(validate(s, obj({"items": [{"k": "b", "v": 0}]}), old)) == [
        'spec.items[0]: Invalid value: "object": v may only grow']


def test_transition_rule_in_atomic_list_is_not_correlated():
    assert validate(immutable_schema(), obj({"plain": [2]}), obj({"plain": [1]})) == []


def test_unchanged_value_ratchets_non_transition_rule():
    s = spec_with([{"rule": "self.replicas > 5"}])
    old = obj({"replicas": 1, "name": "x"})
    assert validate(s, obj({"replicas": 1, "name": "x"}), old) == []
    assert len(validate(s, obj({"replicas": 1, "name": "y"}), old)) == 1


# ---------------------------------------------------------------- compilation is reused

def test_compiled_schema_is_reused():
    s = spec_with([{"rule": "self.replicas > 0"}])
    first = compile_schema(s)
    before = compiled.stats["compiled"]
    for n in range(3):
        validate(s, obj({"replicas": n}))
    assert compile_schema(s) is first
    assert compiled.stats["compiled"] == before
    rules = first.root.properties["spec"].cel
    validate(s, obj({"replicas": 1}))
    assert first.root.properties["spec"].cel is rules        # CEL programs compiled once
    other = spec_with([{"rule": "self.replicas > 0"}])
    assert compile_schema(other) is not first


def test_optional_old_self_runs_on_create():
    s = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "n": {"type": "integer", "x-kubernetes-validations": [
            {"rule": "!oldSelf.hasValue() || self >= oldSelf.value()", "optionalOldSelf": True,
             "message": "may not shrink"},
            {"rule": "self >= oldSelf.orValue(3)", "optionalOldSelf": True, "message": "at least 3"}]}}}}}
    assert texts(validate(s, obj({"n": 1}))) == ['spec.n: Invalid value: "integer": at least 3']
    assert texts(validate(s, obj({"n": 4}), obj({"n": 5}))) == [
        'spec.n: Invalid value: "integer": may not shrink', 'spec.n: Invalid value: "integer": at least 3']
    assert validate(s, obj({"n": 6}), obj({"n": 5})) == []


def test_kubernetes_libraries_in_rules():
    s = spec_with([
        {"rule": "quantity(self.memory).isLessThan(quantity('1Gi'))", "message": "too much"},
        {"rule": "url(self.endpoint).getScheme() == 'https'", "message": "https only"},
        {"rule": "cidr('10.0.0.0/8').containsIP(self.address)", "message": "outside"}],
        memory={"type": "string"}, endpoint={"type": "string"}, address={"type": "string"})
    good = {"memory": "512Mi", "endpoint": "https://example.com/x", "address": "10.2.3.4"}
    assert validate(s, obj(good)) == []
    bad = {"memory": "2Gi", "endpoint": "http://example.com/x", "address": "192.168.1.1"}
    assert texts(validate(s, obj(bad))) == [
        'spec: Invalid value: "object": too much', 'spec: Invalid value: "object": https only',
        'spec: Invalid value: "object": outside']
