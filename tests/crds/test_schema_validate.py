"""crds.schema.validate: OpenAPI value validation, formats, list types, embedded resources.

Expected texts are kube-apiserver 1.32's: kube-openapi ``pkg/validation/errors/schema.go``
messages rendered by apiextensions-apiserver ``kubeOpenAPIResultToFieldErrors`` into
``field.Error`` (k8s.io/apimachinery ``pkg/util/validation/field/errors.go``).
"""
import pytest

from crds.schema import validate


def obj(spec=None, **top):
    o = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    if spec is not None:
        o["spec"] = spec
    o.update(top)
    return o


def spec_schema(**props):
    return {"type": "object", "properties": {"spec": {"type": "object", "properties": props}}}


def texts(errs):
    return [e.error_text() for e in errs]


def one(schema, o, old=None):
    errs = validate(schema, o, old)
    assert len(errs) == 1, texts(errs)
    return errs[0]


# ---------------------------------------------------------------- types

def test_type_integer():
    e = one(spec_schema(replicas={"type": "integer"}), obj({"replicas": "string"}))
    assert (e.type, e.field) == ("FieldValueTypeInvalid", "spec.replicas")
    assert e.error_text() == ('spec.replicas: Invalid value: "string": spec.replicas in body '
                              'must be of type integer: "string"')


def test_type_object_and_array_and_boolean():
    s = spec_schema(a={"type": "object"}, b={"type": "array"}, c={"type": "boolean"})
    errs = validate(s, obj({"a": [1], "b": {}, "c": 1}))
    assert texts(errs) == [
        'spec.a: Invalid value: "array": spec.a in body must be of type object: "array"',
        'spec.b: Invalid value: "object": spec.b in body must be of type array: "object"',
        'spec.c: Invalid value: "integer": spec.c in body must be of type boolean: "integer"']


def test_integral_float_is_an_integer_and_int_is_a_number():
    s = spec_schema(i={"type": "integer"}, n={"type": "number"})
    assert validate(s, obj({"i": 3.0, "n": 3})) == []
    assert texts(validate(s, obj({"i": 3.5}))) == [
        'spec.i: Invalid value: "number": spec.i in body must be of type integer: "number"']


def test_null_needs_nullable():
    s = spec_schema(a={"type": "string"}, b={"type": "string", "nullable": True})
    assert texts(validate(s, obj({"a": None, "b": None}))) == [
        'spec.a: Invalid value: "null": spec.a in body must be of type string: "null"']


def test_int_or_string():
    s = spec_schema(port={"x-kubernetes-int-or-string": True})
    assert validate(s, obj({"port": 80})) == validate(s, obj({"port": "http"})) == []
    assert texts(validate(s, obj({"port": True}))) == [
        'spec.port: Invalid value: "boolean": spec.port in body must be of type '
        'integer,string: "boolean"']


def test_integer_format_int32_float_value():
    s = spec_schema(n={"type": "integer", "format": "int32"})
    assert validate(s, obj({"n": 2 ** 40})) == []          # formats are not range-checked
    assert texts(validate(s, obj({"n": 1.5}))) == [
        'spec.n: Invalid value: "float64": spec.n in body must be of type int32: "float64"']


# ---------------------------------------------------------------- formats

@pytest.mark.parametrize("fmt,good,bad", [
    ("date", "2024-02-29", "2023-02-29"),
    ("date-time", "2024-01-02T03:04:05Z", "2024-01-02 03:04:05"),
    ("uuid", "6ba7b810-9dad-11d1-80b4-00c04fd430c8", "6ba7b810"),
    ("email", "a@example.com", "not-an-email"),
    ("hostname", "www.example.com", "-bad-.com"),
    ("ipv4", "10.0.0.1", "10.0.0.256"),
    ("ipv6", "fe80::1", "10.0.0.1"),
    ("cidr", "10.0.0.0/8", "10.0.0.0/33"),
    ("mac", "01:23:45:67:89:ab", "01:23:45"),
    ("byte", "aGVsbG8=", "not base64!"),
    ("duration", "1h30m", "forever"),
    ("uri", "https://example.com/x", "no scheme"),
])
def test_formats(fmt, good, bad):
    s = spec_schema(v={"type": "string", "format": fmt})
    assert validate(s, obj({"v": good})) == []
    e = one(s, obj({"v": bad}))
    assert e.type == "FieldValueTypeInvalid"
    assert e.error_text() == f'spec.v: Invalid value: "{bad}": spec.v in body must be of type {fmt}: "{bad}"'


def test_unknown_format_is_ignored():
    s = spec_schema(v={"type": "string", "format": "k8s-short-name"})
    assert validate(s, obj({"v": "Not A Name"})) == []


# ---------------------------------------------------------------- values

def test_enum():
    s = spec_schema(size={"type": "string", "enum": ["small", "large"]},
                    n={"type": "integer", "enum": [1, 2]})
    errs = validate(s, obj({"size": "medium", "n": 3}))
    assert [e.type for e in errs] == ["FieldValueNotSupported"] * 2
    assert texts(errs) == ['spec.size: Unsupported value: "medium": supported values: '
                           '"small", "large"',
                           'spec.n: Unsupported value: 3: supported values: "1", "2"']


def test_pattern():
    e = one(spec_schema(v={"type": "string", "pattern": "^[a-z]+$"}), obj({"v": "A1"}))
    assert e.error_text() == 'spec.v: Invalid value: "A1": spec.v in body should match \'^[a-z]+$\''


def test_min_max_and_exclusive():
    s = spec_schema(a={"type": "integer", "minimum": 1}, b={"type": "integer", "maximum": 10},
                    c={"type": "integer", "minimum": 1, "exclusiveMinimum": True},
                    d={"type": "number", "maximum": 1.5, "exclusiveMaximum": True})
    assert texts(validate(s, obj({"a": 0, "b": 11, "c": 1, "d": 1.5}))) == [
        "spec.a: Invalid value: 0: spec.a in body should be greater than or equal to 1",
        "spec.b: Invalid value: 11: spec.b in body should be less than or equal to 10",
        "spec.c: Invalid value: 1: spec.c in body should be greater than 1",
        "spec.d: Invalid value: 1.5: spec.d in body should be less than 1.5"]


def test_multiple_of():
    s = spec_schema(a={"type": "integer", "multipleOf": 5}, b={"type": "number", "multipleOf": 0.5})
    assert validate(s, obj({"a": 10, "b": 1.5})) == []
    assert texts(validate(s, obj({"a": 7, "b": 1.2}))) == [
        "spec.a: Invalid value: 7: spec.a in body should be a multiple of 5",
        "spec.b: Invalid value: 1.2: spec.b in body should be a multiple of 0.5"]


def test_max_length_is_too_long():
    e = one(spec_schema(v={"type": "string", "maxLength": 3}), obj({"v": "abcd"}))
    assert (e.type, e.field) == ("FieldValueTooLong", "spec.v")
    assert e.error_text() == "spec.v: Too long: may not be more than 3 bytes"


def test_max_length_counts_characters():
    assert validate(spec_schema(v={"type": "string", "maxLength": 2}), obj({"v": "éé"})) == []


def test_min_length():
    e = one(spec_schema(v={"type": "string", "minLength": 3}), obj({"v": "ab"}))
    assert e.error_text() == 'spec.v: Invalid value: "ab": spec.v in body should be at least 3 chars long'


def test_min_and_max_items():
    s = spec_schema(a={"type": "array", "minItems": 2, "items": {"type": "string"}},
                    b={"type": "array", "maxItems": 1, "items": {"type": "string"}})
    errs = validate(s, obj({"a": ["x"], "b": ["x", "y", "z"]}))
    assert errs[0].error_text() == "spec.a: Invalid value: 1: spec.a in body should have at least 2 items"
    assert (errs[1].type, errs[1].field, errs[1].value, errs[1].detail) == (
        "FieldValueTooMany", "spec.b", 3, "must have at most 1 items")


def test_min_and_max_properties():
    s = spec_schema(m={"type": "object", "minProperties": 2, "additionalProperties": {"type": "string"}},
                    n={"type": "object", "maxProperties": 1, "additionalProperties": {"type": "string"}})
    errs = validate(s, obj({"m": {"a": "1"}, "n": {"a": "1", "b": "2"}}))
    assert errs[0].error_text() == ("spec.m: Invalid value: 1: spec.m in body should have at "
                                    "least 2 properties")
    assert (errs[1].type, errs[1].field, errs[1].value, errs[1].detail) == (
        "FieldValueTooMany", "spec.n", 2, "must have at most 1 items")


def test_required():
    s = {"type": "object", "required": ["spec"],
         "properties": {"spec": {"type": "object", "required": ["size"],
                                 "properties": {"size": {"type": "string"}}}}}
    assert texts(validate(s, obj())) == ["spec: Required value"]
    e = one(s, obj({}))
    assert (e.type, e.field, e.error_text()) == ("FieldValueRequired", "spec.size",
                                                 "spec.size: Required value")


def test_additional_properties_schema_uses_dotted_paths():
    s = spec_schema(labels={"type": "object", "additionalProperties": {"type": "string"}})
    assert texts(validate(s, obj({"labels": {"a": 1}}))) == [
        'spec.labels.a: Invalid value: "integer": spec.labels.a in body must be of type string: "integer"']


def test_additional_properties_false():
    s = spec_schema(o={"type": "object", "properties": {"a": {"type": "string"}},
                       "additionalProperties": False})
    assert texts(validate(s, obj({"o": {"a": "x", "b": "y"}}))) == [
        'spec.o: Invalid value: "b": spec.o.b in body is a forbidden property']


def test_items_paths():
    s = spec_schema(xs={"type": "array", "items": {"type": "object", "properties": {
        "n": {"type": "integer"}}}})
    assert texts(validate(s, obj({"xs": [{"n": 1}, {"n": "a"}]}))) == [
        'spec.xs[1].n: Invalid value: "string": spec.xs[1].n in body must be of type integer: "string"']


def test_unique_items():
    s = spec_schema(xs={"type": "array", "uniqueItems": True, "items": {"type": "integer"}})
    assert texts(validate(s, obj({"xs": [1, 1]}))) == [
        'spec.xs: Invalid value: "": spec.xs in body shouldn\'t contain duplicates']


# ---------------------------------------------------------------- composition

def test_one_of_any_of_all_of_not():
    s = spec_schema(v={"type": "integer", "oneOf": [{"minimum": 5}, {"maximum": 1}]},
                    w={"type": "integer", "anyOf": [{"minimum": 5}, {"maximum": 1}]},
                    x={"type": "integer", "allOf": [{"minimum": 5}, {"maximum": 1}]},
                    y={"type": "integer", "not": {"minimum": 5}})
    assert texts(validate(s, obj({"v": 3}))) == [
        '<nil>: Invalid value: "": "spec.v" must validate one and only one schema (oneOf). '
        'Found none valid',
        "spec.v: Invalid value: 3: spec.v in body should be greater than or equal to 5"]
    assert texts(validate(s, obj({"w": 3}))) == [
        '<nil>: Invalid value: "": "spec.w" must validate at least one schema (anyOf)',
        "spec.w: Invalid value: 3: spec.w in body should be greater than or equal to 5"]
    assert texts(validate(s, obj({"x": 3}))) == [
        "spec.x: Invalid value: 3: spec.x in body should be greater than or equal to 5",
        "spec.x: Invalid value: 3: spec.x in body should be less than or equal to 1",
        '<nil>: Invalid value: "": "spec.x" must validate all the schemas (allOf). None validated']
    assert texts(validate(s, obj({"y": 7}))) == [
        '<nil>: Invalid value: "": "spec.y" must not validate the schema (not)']
    assert validate(s, obj({"v": 7, "w": 0, "y": 1})) == []


def test_one_of_two_valid():
    s = spec_schema(v={"type": "integer", "oneOf": [{"minimum": 1}, {"maximum": 10}]})
    assert texts(validate(s, obj({"v": 5}))) == [
        '<nil>: Invalid value: "": "spec.v" must validate one and only one schema (oneOf). '
        'Found 2 valid alternatives']


# ---------------------------------------------------------------- preserve / embedded

def test_preserve_unknown_fields_still_validates_known():
    s = spec_schema(raw={"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                         "properties": {"n": {"type": "integer"}}})
    assert validate(s, obj({"raw": {"anything": [1, 2]}})) == []
    assert len(validate(s, obj({"raw": {"n": "x"}}))) == 1


def test_embedded_resource_type_meta():
    s = spec_schema(template={"type": "object", "x-kubernetes-embedded-resource": True,
                              "x-kubernetes-preserve-unknown-fields": True})
    assert texts(validate(s, obj({"template": {}}))) == [
        "spec.template.apiVersion: Required value", "spec.template.kind: Required value"]
    assert texts(validate(s, obj({"template": {"apiVersion": "a/b/c", "kind": "Foo_Bar"}}))) == [
        'spec.template.apiVersion: Invalid value: "a/b/c": unexpected GroupVersion string: a/b/c',
        'spec.template.kind: Invalid value: "Foo_Bar": may have mixed case, but should otherwise '
        "match: a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
        "start with an alphabetic character, and end with an alphanumeric character (e.g. "
        "'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"]
    assert texts(validate(s, obj({"template": {"apiVersion": 1, "kind": "Pod"}}))) == [
        "spec.template.apiVersion: Invalid value: 1: must be a string"]


def test_embedded_resource_metadata():
    s = spec_schema(template={"type": "object", "x-kubernetes-embedded-resource": True,
                              "x-kubernetes-preserve-unknown-fields": True})
    t = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a/b", "labels": {"k": "-x"}}}
    errs = texts(validate(s, obj({"template": t})))
    assert errs[0] == "spec.template.metadata.name: Invalid value: \"a/b\": may not contain '/'"
    assert errs[1].startswith('spec.template.metadata.labels: Invalid value: "-x": ')
    assert validate(s, obj({"template": {"apiVersion": "v1", "kind": "Pod",
                                         "metadata": {"labels": {"k": "v"}}}})) == []


def test_root_metadata_by_schema():
    s = {"type": "object", "properties": {"metadata": {"type": "object", "properties": {
        "name": {"type": "string", "maxLength": 5}}}}}
    assert texts(validate(s, obj())) == []
    assert texts(validate(s, {"metadata": {"name": "toolong"}})) == [
        "metadata.name: Too long: may not be more than 5 bytes"]


# ---------------------------------------------------------------- list types

def test_list_type_set_duplicates():
    s = spec_schema(xs={"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}})
    errs = validate(s, obj({"xs": ["a", "b", "a", "a", "b"]}))
    assert texts(errs) == ['spec.xs[2]: Duplicate value: "a"', 'spec.xs[4]: Duplicate value: "b"']
    assert errs[0].type == "FieldValueDuplicate"


def test_list_type_map_duplicates():
    item = {"type": "object", "properties": {"name": {"type": "string"}, "port": {"type": "integer"}}}
    s = spec_schema(one={"type": "array", "x-kubernetes-list-type": "map",
                         "x-kubernetes-list-map-keys": ["name"], "items": item},
                    two={"type": "array", "x-kubernetes-list-type": "map",
                         "x-kubernetes-list-map-keys": ["name", "port"], "items": item})
    errs = validate(s, obj({"one": [{"name": "a"}, {"name": "a", "port": 1}],
                            "two": [{"name": "a", "port": 1}, {"name": "a", "port": 1}]}))
    assert texts(errs) == [
        'spec.one[1]: Duplicate value: map[string]interface {}{"name":"a"}',
        'spec.two[1]: Duplicate value: map[string]interface {}{"name":"a", "port":1}']


def test_list_type_map_needs_objects():
    s = spec_schema(xs={"type": "array", "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name"], "x-kubernetes-preserve-unknown-fields": True})
    assert texts(validate(s, obj({"xs": [{"name": "a"}, "b"]}))) == [
        'spec.xs[1]: Invalid value: "b": must be an object for an array of list-type map']


def test_list_duplicates_ratchet_when_old_had_them():
    s = spec_schema(xs={"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}})
    old = obj({"xs": ["a", "a"]})
    assert validate(s, obj({"xs": ["b", "b"]}), old) == []
    assert len(validate(s, obj({"xs": ["b", "b"]}), obj({"xs": ["a"]}))) == 1


# ---------------------------------------------------------------- ratcheting

def test_unchanged_invalid_field_ratchets_on_update():
    s = spec_schema(v={"type": "string", "maxLength": 2}, w={"type": "string", "maxLength": 2})
    old = obj({"v": "long", "w": "ok"})
    assert validate(s, obj({"v": "long", "w": "ok"}), old) == []
    assert texts(validate(s, obj({"v": "long", "w": "bad!"}), old)) == [
        "spec.w: Too long: may not be more than 2 bytes"]
    assert len(validate(s, obj({"v": "long"}))) == 1           # create: no ratcheting


def test_list_map_items_ratchet_by_key():
    item = {"type": "object", "properties": {"name": {"type": "string"},
                                             "v": {"type": "integer", "maximum": 1}}}
    s = spec_schema(xs={"type": "array", "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name"], "items": item})
    old = obj({"xs": [{"name": "a", "v": 5}]})
    assert validate(s, obj({"xs": [{"name": "b", "v": 0}, {"name": "a", "v": 5}]}), old) == []
    assert len(validate(s, obj({"xs": [{"name": "a", "v": 6}]}), old)) == 1


# ---------------------------------------------------------------- status subresource

def test_status_update_validates_status_at_its_path():
    from crds.schema import validate_status
    s = {"type": "object", "properties": {
        "spec": {"type": "object", "properties": {"n": {"type": "integer"}}},
        "status": {"type": "object", "properties": {"replicas": {"type": "integer"}}}}}
    old = obj({"n": 1}, status={"replicas": 1})
    assert validate_status(s, obj({"n": 1}, status={"replicas": 2}), old) == []
    assert texts(validate_status(s, obj({"n": "x"}, status={"replicas": "two"}), old)) == [
        'status.replicas: Invalid value: "string": replicas in body must be of type integer: "string"']


def test_prior_errors_block_cel_rules():
    s = {"type": "object", "x-kubernetes-validations": [{"rule": "false"}]}
    from apiserver.runtime.errors import required
    assert texts(validate(s, obj(), prior_errors=[required("metadata.name")])) == [
        '<nil>: Invalid value: "null": some validation rules were not checked because the object '
        'was invalid; correct the existing errors to complete validation']


def test_plain_list_items_ratchet_by_index_but_sets_do_not():
    # validation/ratcheting.go: set items are never correlated, so an unchanged set with an
    # invalid item still fails; items of a list without a list type correlate by index
    s = spec_schema(plain={"type": "array", "items": {"type": "string", "maxLength": 1}},
                    aset={"type": "array", "x-kubernetes-list-type": "set",
                          "items": {"type": "string", "maxLength": 1}})
    old = obj({"plain": ["long", "a"], "aset": ["long"]})
    assert validate(s, obj({"plain": ["long", "b"]}), old) == []
    assert texts(validate(s, obj({"plain": ["long", "b"], "aset": ["long"]}), old)) == [
        "spec.aset[0]: Too long: may not be more than 1 bytes"]


def test_schema_unknown_keys_keep_parent_from_ratcheting():
    s = spec_schema(free={"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                          "required": ["must"]})
    old = obj({"free": {"other": 1}})
    assert texts(validate(s, obj({"free": {"other": 1}}), old)) == ["spec.free.must: Required value"]
    s2 = spec_schema(free={"type": "object", "properties": {"other": {"type": "integer"}},
                           "required": ["must"]})
    assert validate(s2, obj({"free": {"other": 1}}), old) == []


def test_float_bounds_print_like_go():
    s = spec_schema(r={"type": "number", "maximum": 1000000.0}, q={"type": "number", "minimum": 0.5})
    assert texts(validate(s, obj({"r": 2e6, "q": 0.25}))) == [
        "spec.r: Invalid value: 2e+06: spec.r in body should be less than or equal to 1e+06",
        "spec.q: Invalid value: 0.25: spec.q in body should be greater than or equal to 0.5"]


def test_null_never_matches_an_enum():
    # kube-openapi's basicCommonValidator runs for null values too and cannot match them
    s = spec_schema(v={"type": "string", "nullable": True, "enum": ["a"]})
    assert texts(validate(s, obj({"v": None}))) == [
        'spec.v: Unsupported value: "null": supported values: "a"']
