"""The structural-schema rules and the OpenAPI subset a v1 CustomResourceDefinition's
schema must follow (API-CONTRACT §8.2 rules 1–7), with upstream's messages.  Cases after
kubernetes/apiextensions-apiserver:pkg/apiserver/schema/validation_test.go and
pkg/apis/apiextensions/validation/validation_test.go.  One version, so the paths read
``spec.validation.openAPIV3Schema`` as upstream's internal form does."""
from __future__ import annotations

import pytest

from crds.validation_structural import validate_structural
from tests.apiserver.storage.support import ensure_revision_row
from tests.crds.test_crd_support import crd, crd_store
from tests.crds.test_crd_support import causes as _causes

ROOT = "spec.validation.openAPIV3Schema"


@pytest.fixture
def causes(stores, ctx):
    ensure_revision_row()
    store = crd_store(stores)
    return lambda schema, **version: _causes(store, ctx, crd(schema=schema, **version))


def obj(**props):
    return {"type": "object", "properties": props}


def test_rule1_types_everywhere(causes):
    assert causes({"properties": {"spec": {"type": "object"}}}) == [
        (ROOT + ".type", "Required value: must not be empty at the root")]
    assert causes(obj(spec={"type": "array"})) == [
        (ROOT + ".properties[spec].items", "Required value: must be specified")]
    assert causes(obj(spec={"type": "array", "items": {}})) == [
        (ROOT + ".properties[spec].items.type",
         "Required value: must not be empty for specified array items")]
    # int-or-string and preserve-unknown-fields need no type
    assert causes(obj(a={"x-kubernetes-int-or-string": True},
                      b={"x-kubernetes-preserve-unknown-fields": True})) == []
    assert causes({"type": "array", "items": {"type": "string"}}) == [
        (ROOT + ".type", 'Invalid value: "array": must be object at the root')]


def test_rule2_junctors_hold_value_validations_only(causes):
    schema = obj(spec={"type": "object", "properties": {"a": {"type": "string"}},
                       "allOf": [{"type": "string", "description": "d", "nullable": True,
                                  "default": "x", "title": "t",
                                  "x-kubernetes-preserve-unknown-fields": True,
                                  "x-kubernetes-list-map-keys": ["a"]}],
                       "anyOf": [{"properties": {"a": {"pattern": "^a"}}}]})
    path = ROOT + ".properties[spec].allOf[0]"
    assert causes(schema) == sorted([
        (path + ".default", "Forbidden: must be undefined to be structural"),
        (path + ".description", "Forbidden: must be empty to be structural"),
        (path + ".nullable", "Forbidden: must be false to be structural"),
        (path + ".title", "Forbidden: must be empty to be structural"),
        (path + ".type", "Forbidden: must be empty to be structural"),
        (path + ".x-kubernetes-list-map-keys", "Forbidden: must be empty to be structural"),
        (path + ".x-kubernetes-preserve-unknown-fields", "Forbidden: must be false to be structural"),
    ]) + [  # then the OpenAPI checks, which walk into allOf too
        (path + ".x-kubernetes-list-type",
         "Required value: must be map if x-kubernetes-list-map-keys is non-empty")]


def test_int_or_string_pattern_is_allowed(causes):
    node = {"x-kubernetes-int-or-string": True,
            "anyOf": [{"type": "integer"}, {"type": "string"}]}
    assert causes(obj(port=node)) == []


def test_completeness_of_junctor_properties():
    schema = {"type": "object", "properties": {"a": {"type": "string"}},
              "allOf": [{"properties": {"b": {"pattern": "x"}}}]}
    errs = validate_structural(schema, "s")
    assert [(e.field, e.detail) for e in errs] == [
        ("s.properties[b]", "because it is defined in s.allOf[0].properties[b]")]


def test_rule3_properties_and_additional_properties(causes):
    assert causes(obj(spec={"type": "object", "properties": {"a": {"type": "string"}},
                            "additionalProperties": {"type": "string"}})) == [
        (ROOT + ".properties[spec].additionalProperties",
         "Forbidden: additionalProperties and properties are mutual exclusive")]
    assert causes({"type": "object", "additionalProperties": {"type": "string"}}) == [
        (ROOT + ".additionalProperties", "Forbidden: must not be used at the root")]
    # a map is fine below the root
    assert causes(obj(labels={"type": "object", "additionalProperties": {"type": "string"}})) == []


def test_rule4_ref_and_unique_items(causes):
    assert causes(obj(spec={"$ref": "#/definitions/x"})) == [
        (ROOT + ".properties[spec].$ref", "Forbidden: $ref is not supported")]
    assert causes(obj(tags={"type": "array", "items": {"type": "string"}, "uniqueItems": True})) == [
        (ROOT + ".properties[tags].uniqueItems",
         "Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic")]


def test_rule5_metadata_and_type_meta(causes):
    assert causes(obj(metadata={"type": "object", "properties": {"name": {"type": "string",
                                                                          "maxLength": 20}}})) == []
    assert causes(obj(metadata={"type": "object",
                                "properties": {"labels": {"type": "object"}}})) == [
        (ROOT + ".properties[metadata]", "Forbidden: must not specify anything other than name "
         "and generateName, but metadata is implicitly specified")]
    assert causes(obj(kind={"type": "integer"}, apiVersion={"type": "string"})) == [
        (ROOT + ".properties[kind].type", 'Invalid value: "integer": must be string')]
    assert causes(obj(metadata={"type": "object", "default": {"name": "x"}})) == [
        (ROOT + ".properties[metadata].default", "Forbidden: must not be set in top-level metadata")]


def test_rule6_embedded_resource(causes):
    assert causes(obj(tmpl={"x-kubernetes-embedded-resource": True, "type": "object"})) == [
        (ROOT + ".properties[tmpl].properties", "Required value: must not be empty if "
         "x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields")]
    assert causes(obj(tmpl={"x-kubernetes-embedded-resource": True, "type": "string"})) == [
        (ROOT + ".properties[tmpl].properties", "Required value: must not be empty if "
         "x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields"),
        (ROOT + ".properties[tmpl].type",
         'Invalid value: "string": must be object if x-kubernetes-embedded-resource is true')]
    assert causes(obj(tmpl={"x-kubernetes-embedded-resource": True, "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True})) == []


def test_rule7_validation_rules_shape(causes):
    node = {"type": "object", "x-kubernetes-validations": [
        {"rule": " "}, {"rule": "self.a > 0", "message": "  "},
        {"rule": "self.a > 0", "reason": "Nope"}, {"rule": "a\nb"}]}
    path = ROOT + ".x-kubernetes-validations"
    assert causes(node) == [
        (path + "[0].rule", "Required value: rule is not specified"),
        (path + "[1].message", 'Invalid value: "  ": message must be non-empty if specified'),
        (path + "[2].reason", 'Unsupported value: "Nope": supported values: "FieldValueDuplicate", '
         '"FieldValueForbidden", "FieldValueInvalid", "FieldValueRequired"'),
        (path + "[3].message", "Required value: message must be specified if rule contains line breaks")]


def test_other_openapi_restrictions(causes):
    assert causes(obj(a={"type": "null"})) == [
        (ROOT + ".properties[a].type", 'Unsupported value: "null": supported values: "array", '
         '"boolean", "integer", "number", "object", "string"'),
        (ROOT + ".properties[a].type",
         "Forbidden: type cannot be set to null, use nullable as an alternative")]
    assert causes({"type": "object", "nullable": True}) == [
        (ROOT + ".nullable", "Forbidden: nullable cannot be true at the root")]
    assert causes(obj(a={"type": "string", "x-kubernetes-preserve-unknown-fields": False})) == [
        (ROOT + ".properties[a].x-kubernetes-preserve-unknown-fields",
         "Invalid value: false: must be true or undefined")]


def test_list_types(causes):
    assert causes(obj(a={"type": "string", "x-kubernetes-list-type": "set"})) == [
        (ROOT + ".properties[a].type",
         'Invalid value: "string": must be array if x-kubernetes-list-type is specified')]
    items = {"type": "object", "properties": {"k": {"type": "string"}}}
    assert causes(obj(a={"type": "array", "items": items, "x-kubernetes-list-type": "map"})) == [
        (ROOT + ".properties[a].x-kubernetes-list-map-keys",
         "Required value: must not be empty if x-kubernetes-list-type is map")]
    assert causes(obj(a={"type": "array", "items": items, "x-kubernetes-list-type": "map",
                         "x-kubernetes-list-map-keys": ["k"]})) == [
        (ROOT + ".properties[a].items.properties[k].default", "Required value: this property is "
         "in x-kubernetes-list-map-keys, so it must have a default or be a required property")]
    assert causes(obj(a={"type": "array", "items": {"type": "string"},
                         "x-kubernetes-list-type": "bag"})) == [
        (ROOT + ".properties[a].x-kubernetes-list-type",
         'Unsupported value: "bag": supported values: "atomic", "set", "map"')]


def test_status_subresource_limits_the_root(causes):
    assert causes({"type": "object", "properties": {"spec": {"type": "object"}},
                   "minProperties": 1}, subresources={"status": {}}) == [
        (ROOT, "Invalid value: apiextensions.JSONSchemaProps{...}: only [Description Type Format "
         "Title Maximum ExclusiveMaximum Minimum ExclusiveMinimum MaxLength MinLength Pattern "
         "MaxItems MinItems UniqueItems MultipleOf Required Items Properties ExternalDocs Example "
         "XPreserveUnknownFields XValidations] fields are allowed at the root of the schema if "
         "the status subresource is enabled")]


def test_rule7_rules_are_compiled(causes):
    path = ROOT + ".properties[spec].x-kubernetes-validations"
    spec = {"type": "object", "properties": {"n": {"type": "integer"}},
            "x-kubernetes-validations": [{"rule": "self.n > 0"}, {"rule": "nope > 0"}]}
    got = causes(obj(spec=spec))
    assert [f for f, _ in got] == [path + "[1].rule"]
    assert got[0][1] == ('Invalid value: apiextensions.ValidationRule{Rule:"nope > 0", '
                         'Message:"", MessageExpression:"", '
                         "Reason:(*apiextensions.FieldValueErrorReason)(nil), FieldPath:\"\", "
                         "OptionalOldSelf:(*bool)(nil)}: compilation failed: ERROR: <input>:1:1: "
                         "undeclared reference to 'nope' (in container '')")


def test_rule7_old_self_needs_a_correlatable_place(causes):
    items = {"type": "object", "properties": {"n": {"type": "integer"}},
             "x-kubernetes-validations": [{"rule": "self.n >= oldSelf.n"}]}
    got = causes(obj(list={"type": "array", "items": items}))
    assert got == [(ROOT + ".properties[list].items.x-kubernetes-validations[0].rule",
                    'Invalid value: "self.n >= oldSelf.n": oldSelf cannot be used on the '
                    f"uncorrelatable portion of the schema within {ROOT}.properties[list]")]
    listmap = {"type": "array", "items": dict(items, required=["n"]),
               "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["n"]}
    assert causes(obj(list=listmap)) == []
    spec = {"type": "object", "x-kubernetes-validations": [{"rule": "true", "optionalOldSelf": True}]}
    assert causes(obj(spec=spec)) == [
        (ROOT + ".properties[spec].x-kubernetes-validations[0].optionalOldSelf",
         "Invalid value: true: may not be set if oldSelf is not used in rule")]
