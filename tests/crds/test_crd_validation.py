"""CustomResourceDefinition validation: upstream's messages and (internal-form) field paths
per rule.  Cases after kubernetes/apiextensions-apiserver:pkg/apis/apiextensions/validation/
validation_test.go (TestValidateCustomResourceDefinition, …Update, …StoredVersions)."""
from __future__ import annotations

import orjson
import pytest

from apiserver.runtime.validation import is_dns1035_label
from tests.apiserver.storage.support import ensure_revision_row
from tests.crds.test_crd_support import crd, crd_store
from tests.crds.test_crd_support import causes as _causes

DNS1035 = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start "
           "with an alphabetic character, and end with an alphanumeric character (e.g. "
           "'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")


@pytest.fixture
def store(stores):
    ensure_revision_row()
    return crd_store(stores)


@pytest.fixture
def causes(store, ctx):
    return lambda obj: _causes(store, ctx, obj)


def test_dns1035_message_is_upstreams():
    assert is_dns1035_label("Bad_Name") == [DNS1035]


def test_name_must_be_plural_dot_group(causes):
    obj = crd()
    obj["metadata"]["name"] = "gadgets.example.com"
    assert causes(obj) == [("metadata.name",
                            'Invalid value: "gadgets.example.com": must be spec.names.plural+"."+spec.group')]


def test_group(causes):
    obj = crd(group="example")
    assert ("spec.group", 'Invalid value: "example": should be a domain with at least one dot') \
        in causes(obj)
    obj = crd(group="Example.com")
    obj["metadata"]["name"] = "widgets.Example.com"
    assert ("spec.group", 'Invalid value: "Example.com": a lowercase RFC 1123 subdomain must '
            "consist of lower case alphanumeric characters, '-' or '.', and must start and end "
            "with an alphanumeric character (e.g. 'example.com', regex used for validation is "
            "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')") in causes(obj)
    obj = crd()
    del obj["spec"]["group"]
    obj["metadata"]["name"] = "widgets."
    assert ("spec.group", "Required value") in causes(obj)


def test_scope(causes):
    assert causes(crd(scope="World")) == [
        ("spec.scope", 'Unsupported value: "World": supported values: "Cluster", "Namespaced"')]
    obj = crd()
    del obj["spec"]["scope"]
    assert causes(obj) == [("spec.scope", "Required value")]


def test_names(causes):
    obj = crd()
    obj["spec"]["names"].update(singular="Widget", kind="Wid_get", listKind="Wid_getList",
                                shortNames=["w", "W"], categories=["all", "Bad"])
    assert causes(obj) == [
        ("spec.names.singular", f'Invalid value: "Widget": {DNS1035}'),
        ("spec.names.kind", f'Invalid value: "Wid_get": may have mixed case, but should '
                            f"otherwise match: {DNS1035}"),
        ("spec.names.listKind", f'Invalid value: "Wid_getList": may have mixed case, but '
                                f"should otherwise match: {DNS1035}"),
        ("spec.names.shortNames[1]", f'Invalid value: "W": {DNS1035}'),
        ("spec.names.categories[1]", f'Invalid value: "Bad": {DNS1035}')]


def test_kind_and_list_kind_differ_and_kind_is_required(causes):
    obj = crd()
    obj["spec"]["names"]["listKind"] = "Widget"
    assert causes(obj) == [("spec.names.listKind",
                            'Invalid value: "Widget": kind and listKind may not be the same')]
    obj = crd()
    del obj["spec"]["names"]["kind"]
    # singular and listKind default from kind, so only kind is missing
    assert causes(obj) == [("spec.names.singular", "Required value"),
                           ("spec.names.kind", "Required value"),
                           ("spec.names.listKind", "Required value")]


def test_versions_unique_dns1035_and_one_storage(causes):
    obj = crd()
    obj["spec"]["versions"][0]["name"] = "V1"
    got = causes(obj)
    assert got[0] == ("spec.versions[0].name", f'Invalid value: "V1": {DNS1035}')
    assert got[1] == ("spec.version", f'Invalid value: "V1": {DNS1035}')   # internal spec.version
    obj = crd()
    second = dict(obj["spec"]["versions"][0], storage=False)
    obj["spec"]["versions"].append(second)
    got = causes(obj)
    assert [f for f, _ in got] == ["spec.versions"]
    assert got[0][1].endswith(": must contain unique version names")
    assert got[0][1].startswith('Invalid value: []apiextensions.CustomResourceDefinitionVersion{'
                                'apiextensions.CustomResourceDefinitionVersion{Name:"v1", '
                                "Served:true, Storage:true, Deprecated:false, "
                                "DeprecationWarning:(*string)(nil), Schema:")
    obj = crd()
    obj["spec"]["versions"][0]["storage"] = False
    got = causes(obj)
    assert [(f, m.rsplit(": ", 1)[1]) for f, m in got] == [
        ("spec.versions", "must have exactly one version marked as storage version"),
        ("status.storedVersions", "must have at least one stored version")]
    assert got[1][1].startswith("Invalid value: []string(nil)")
    obj = crd()
    obj["spec"]["versions"] = []
    assert ("spec.versions", "Invalid value: []apiextensions.CustomResourceDefinitionVersion(nil): "
            "must have exactly one version marked as storage version") in causes(obj)


def test_schema_required_per_version_and_paths(causes):
    obj = crd()
    del obj["spec"]["versions"][0]["schema"]
    assert causes(obj) == [("spec.versions[0].schema.openAPIV3Schema",
                            "Required value: schemas are required")]
    # two versions with different schemas: the paths stay per version
    obj = crd()
    v2 = {"name": "v2", "served": True, "storage": False,
          "schema": {"openAPIV3Schema": {"type": "object", "properties": {"a": {}}}}}
    obj["spec"]["versions"].append(v2)
    assert causes(obj) == [("spec.versions[1].schema.openAPIV3Schema.properties[a].type",
                            "Required value: must not be empty for specified object fields")]


def test_preserve_unknown_fields_must_be_false(causes):
    obj = crd()
    obj["spec"]["preserveUnknownFields"] = True
    assert causes(obj) == [("spec.preserveUnknownFields",
                            "Invalid value: true: cannot set to true, set "
                            "x-kubernetes-preserve-unknown-fields to true in "
                            "spec.versions[*].schema instead")]


def test_printer_columns(causes):
    obj = crd(additionalPrinterColumns=[
        {"name": "", "type": "duration", "jsonPath": "spec.size", "format": "int"},
        {"name": "Size", "jsonPath": ".spec.size"},
        {"name": "Color", "type": "string"}])
    assert causes(obj) == [
        ("spec.additionalPrinterColumns[0].name", "Required value"),
        ("spec.additionalPrinterColumns[0].type",
         'Invalid value: "duration": must be one of boolean,date,integer,number,string'),
        ("spec.additionalPrinterColumns[0].format",
         'Invalid value: "int": must be one of byte,date,date-time,double,float,int32,int64,password'),
        ("spec.additionalPrinterColumns[0].JSONPath",
         'Invalid value: "spec.size": must be a simple json path starting with .'),
        ("spec.additionalPrinterColumns[1].type",
         "Required value: must be one of boolean,date,integer,number,string"),
        ("spec.additionalPrinterColumns[2].JSONPath", "Required value")]


def test_scale_paths(causes):
    obj = crd(subresources={"scale": {"specReplicasPath": ".status.replicas",
                                      "statusReplicasPath": ".spec.replicas",
                                      "labelSelectorPath": ".metadata.labels"}})
    assert causes(obj) == [
        ("spec.subresources.scale.specReplicasPath",
         'Invalid value: ".status.replicas": should be a json path under .spec'),
        ("spec.subresources.scale.statusReplicasPath",
         'Invalid value: ".spec.replicas": should be a json path under .status'),
        ("spec.subresources.scale.labelSelectorPath",
         'Invalid value: ".metadata.labels": should be a json path under either .spec or .status')]
    obj = crd(subresources={"scale": {}})
    assert causes(obj) == [("spec.subresources.scale.specReplicasPath", "Required value"),
                           ("spec.subresources.scale.statusReplicasPath", "Required value")]


def test_selectable_fields(causes):
    fields = [{"jsonPath": ".spec.color"}, {"jsonPath": ".spec.color"}, {"jsonPath": ".spec"},
              {"jsonPath": ".spec.nope"}, {"jsonPath": ".metadata.name"}, {"jsonPath": ""},
              {"jsonPath": ".spec['color']"}]
    got = causes(crd(selectableFields=fields))
    assert got == [
        ("spec.selectableFields[1].jsonPath", 'Duplicate value: ".spec.color"'),
        ("spec.selectableFields[2].jsonPath", 'Invalid value: ".spec": must point to a field of '
         "type string, boolean or integer. Enum string fields and strings with formats are allowed."),
        ("spec.selectableFields[3].jsonPath",
         'Invalid value: ".spec.nope": is an invalid path: does not refer to a valid field'),
        ("spec.selectableFields[4].jsonPath",
         'Invalid value: ".metadata.name": is an invalid path: does not refer to a valid field'),
        ("spec.selectableFields[5].jsonPath", "Required value"),
        ("spec.selectableFields[6].jsonPath",
         "Invalid value: \".spec['color']\": is an invalid path: array notation is not allowed")]


def test_at_most_eight_selectable_fields(causes):
    props = {f"f{i}": {"type": "string"} for i in range(9)}
    schema = {"type": "object", "properties": {"spec": {"type": "object", "properties": props}}}
    fields = [{"jsonPath": f".spec.f{i}"} for i in range(9)]
    assert causes(crd(schema=schema, selectableFields=fields)) == [
        ("spec.selectableFields", "Too many: 9: must have at most 8 items")]


def test_conversion(causes):
    obj = crd()
    obj["spec"]["conversion"] = {"strategy": "Webhook"}
    assert causes(obj) == [("spec.conversion.webhookClientConfig",
                            "Required value: required when strategy is set to Webhook"),
                           ("spec.conversion.conversionReviewVersions", "Required value")]
    obj["spec"]["conversion"] = {"strategy": "Webhook", "webhook": {
        "clientConfig": {"url": "http://example.com/convert"}, "conversionReviewVersions": ["v2"]}}
    assert causes(obj) == [
        ("spec.conversion.webhookClientConfig.url", 'Invalid value: "http": \'https\' is the only '
         "allowed URL scheme; desired format: https://host[/path]"),
        ("spec.conversion.conversionReviewVersions",
         'Invalid value: []string{"v2"}: must include at least one of v1, v1beta1')]
    obj["spec"]["conversion"] = {"strategy": "Magic"}
    assert causes(obj) == [("spec.conversion.strategy",
                            'Unsupported value: "Magic": supported values: "None", "Webhook"')]


def test_deprecation_warning(causes):
    assert causes(crd(deprecationWarning="old")) == [
        ("spec.versions[0].deprecationWarning",
         'Invalid value: "old": can only be set for deprecated versions')]
    assert causes(crd(deprecated=True, deprecationWarning="x" * 257))[0][1].endswith(
        "must be <= 256 characters long")


def test_protected_group_needs_approval(causes):
    obj = crd(group="widgets.k8s.io")
    assert causes(obj) == [("metadata.annotations[api-approved.kubernetes.io]",
                            'Required value: protected groups must have approval annotation '
                            '"api-approved.kubernetes.io", see '
                            "https://github.com/kubernetes/enhancements/pull/1111")]
    obj["metadata"]["annotations"] = {"api-approved.kubernetes.io": "yes"}
    assert causes(obj)[0][1].startswith('Invalid value: "yes": protected groups must have '
                                        'approval annotation "api-approved.kubernetes.io" with '
                                        'either a URL or a reason starting with "unapproved"')


def test_update_keeps_group_plural_and_established_scope_and_kind(store, ctx):
    created = orjson.loads(store.create(None, crd(), ctx))

    def change(fn, established=False):
        obj = orjson.loads(store.get(None, "widgets.example.com"))
        if established:
            obj.setdefault("status", {})["conditions"] = [
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                 "message": "the initial names have been accepted"}]
            store.guaranteed_update(None, obj["metadata"]["name"], lambda c: obj,
                                    ctx.for_subresource("status"))
            obj = orjson.loads(store.get(None, "widgets.example.com"))
        fn(obj)
        from apiserver.runtime import errors
        with pytest.raises(errors.Invalid) as exc:
            store.update(None, obj["metadata"]["name"], obj, ctx)
        return [(c.field, c.message) for c in exc.value.causes]

    assert created["status"]["storedVersions"] == ["v1"]
    got = change(lambda o: o["spec"]["names"].update(plural="gizmos"))
    assert ("spec.names.plural", 'Invalid value: "gizmos": field is immutable') in got
    # before Established scope and kind may change; afterwards they may not
    assert change(lambda o: o["spec"].update(scope="Cluster"), established=True) == [
        ("spec.scope", 'Invalid value: "Cluster": field is immutable')]


def test_stored_versions_must_be_in_spec(store, ctx):
    store.create(None, crd(), ctx)
    obj = orjson.loads(store.get(None, "widgets.example.com"))
    obj["status"]["storedVersions"] = ["v1", "v0"]
    doc, _ = store.guaranteed_update(None, "widgets.example.com", lambda c: obj,
                                     ctx.for_subresource("status"))
    # the status write itself only checks acceptedNames; the next spec update sees v0
    obj = orjson.loads(doc)
    obj["spec"]["names"]["shortNames"] = ["wd"]
    from apiserver.runtime import errors
    with pytest.raises(errors.Invalid) as exc:
        store.update(None, "widgets.example.com", obj, ctx)
    assert [(c.field, c.message) for c in exc.value.causes] == [
        ("status.storedVersions[1]", 'Invalid value: "v0": must appear in spec.versions')]
