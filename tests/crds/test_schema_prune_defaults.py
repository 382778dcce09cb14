"""crds.schema.prune and apply_defaults (apiextensions-apiserver ``schema/pruning`` and
``schema/defaulting``)."""
from crds.schema import apply_defaults, prune, unknown_field_message


def obj(spec=None, **top):
    o = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    if spec is not None:
        o["spec"] = spec
    o.update(top)
    return o


SCHEMA = {"type": "object", "properties": {
    "spec": {"type": "object", "properties": {
        "a": {"type": "string"},
        "list": {"type": "array", "items": {"type": "object", "properties": {"n": {"type": "integer"}}}},
        "map": {"type": "object", "additionalProperties": {"type": "object", "properties": {
            "keep": {"type": "string"}}}},
        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                 "properties": {"typed": {"type": "object", "properties": {"x": {"type": "string"}}}}},
        "embedded": {"type": "object", "x-kubernetes-embedded-resource": True,
                     "properties": {"spec": {"type": "object", "properties": {}}}},
    }},
    "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}}}}


def test_prune_unknown_fields_and_report_sorted_paths():
    o = obj({"a": "x", "zzz": 1, "list": [{"n": 1, "bad": 2}], "map": {"k": {"keep": "y", "drop": 1}},
             "free": {"anything": {"deep": 1}, "typed": {"x": "1", "y": 2}},
             "embedded": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                          "spec": {"gone": 1}, "other": 1}},
            extra=True)
    paths = prune(SCHEMA, o)
    assert paths == ["extra", "spec.embedded.other", "spec.embedded.spec.gone", "spec.free.typed.y",
                     "spec.list[0].bad", "spec.map.k.drop", "spec.zzz"]
    assert o == obj({"a": "x", "list": [{"n": 1}], "map": {"k": {"keep": "y"}},
                     "free": {"anything": {"deep": 1}, "typed": {"x": "1"}},
                     "embedded": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                                  "spec": {}}})
    assert unknown_field_message(paths[0]) == 'unknown field "extra"'


def test_prune_keeps_root_type_and_object_meta():
    o = obj({}, metadata={"name": "w", "labels": {"a": "b"}, "bogus": 1})
    assert prune({"type": "object", "properties": {"spec": {"type": "object"}}}, o) == ["metadata.bogus"]
    assert o == obj({}, metadata={"name": "w", "labels": {"a": "b"}})


def test_prune_embedded_metadata_unknown_keys():
    o = obj({"embedded": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "nope": 1}}})
    assert prune(SCHEMA, o) == ["spec.embedded.metadata.nope"]
    assert o["spec"]["embedded"]["metadata"] == {"name": "p"}


def test_prune_preserve_unknown_fields_at_root():
    o = obj({"whatever": 1}, other=2)
    assert prune({"type": "object", "x-kubernetes-preserve-unknown-fields": True}, o) == []
    assert o["other"] == 2


def test_prune_drops_non_nullable_nulls_without_default():
    s = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "a": {"type": "string"}, "b": {"type": "string", "nullable": True},
        "c": {"type": "string", "default": "x"}}}}}
    o = obj({"a": None, "b": None, "c": None})
    assert prune(s, o) == []
    assert o["spec"] == {"b": None, "c": None}
    apply_defaults(s, o)
    assert o["spec"] == {"b": None, "c": "x"}


def test_defaults_applied_to_absent_fields_deep_copied():
    default = {"size": 1, "tags": ["a"]}
    s = {"type": "object", "properties": {"spec": {"type": "object", "default": {}, "properties": {
        "replicas": {"type": "integer", "default": 1},
        "conf": {"type": "object", "default": default, "properties": {
            "size": {"type": "integer"}, "tags": {"type": "array", "items": {"type": "string"}},
            "mode": {"type": "string", "default": "fast"}}}}}}}
    first, second = obj(), obj()
    apply_defaults(s, first)
    apply_defaults(s, second)
    assert first["spec"] == {"replicas": 1, "conf": {"size": 1, "tags": ["a"], "mode": "fast"}}
    first["spec"]["conf"]["tags"].append("b")
    assert second["spec"]["conf"]["tags"] == ["a"] and default == {"size": 1, "tags": ["a"]}


def test_defaults_do_not_override_present_values():
    s = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "replicas": {"type": "integer", "default": 1},
        "n": {"type": "string", "nullable": True, "default": "d"}}}}}
    o = obj({"replicas": 0, "n": None})
    apply_defaults(s, o)
    assert o["spec"] == {"replicas": 0, "n": None}


def test_defaults_in_items_and_additional_properties():
    inner = {"type": "object", "properties": {"p": {"type": "integer", "default": 80}}}
    s = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "ports": {"type": "array", "items": inner},
        "byName": {"type": "object", "additionalProperties": inner},
        "xs": {"type": "array", "items": {"type": "string", "default": "z"}}}}}}
    o = obj({"ports": [{}, {"p": 1}], "byName": {"a": {}}, "xs": [None, "y"]})
    apply_defaults(s, o)
    assert o["spec"] == {"ports": [{"p": 80}, {"p": 1}], "byName": {"a": {"p": 80}}, "xs": ["z", "y"]}


def test_default_null_is_not_applied():
    s = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "a": {"type": "string", "nullable": True, "default": None}}}}}
    o = obj({})
    apply_defaults(s, o)
    assert o["spec"] == {}
