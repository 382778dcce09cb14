"""Name, label, annotation, finalizer, owner-reference and ObjectMeta validation.

Expected texts are kube-apiserver 1.32's (k8s.io/apimachinery v0.32 messages).
"""
import pytest

from apiserver.runtime import validation as v

SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")
QNAME_TAIL = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")


def texts(errs):
    return [e.error_text() for e in errs]


@pytest.mark.parametrize("value,expected", [
    ("example.com", []),
    ("a", []),
    ("a" * 253, []),
    ("a" * 254, ["must be no more than 253 characters"]),
    ("Foo", [SUBDOMAIN_MSG]),
    ("a..b", [SUBDOMAIN_MSG]),
    ("-a", [SUBDOMAIN_MSG]),
    ("a_b", [SUBDOMAIN_MSG]),
    ("a\n", [SUBDOMAIN_MSG]),  # Go's "$" does not accept a trailing newline
    ("", [SUBDOMAIN_MSG]),
])
def test_dns1123_subdomain(value, expected):
    assert v.is_dns1123_subdomain(value) == expected


@pytest.mark.parametrize("value,expected", [
    ("my-name", []),
    ("123-abc", []),
    ("a" * 63, []),
    ("a" * 64, ["must be no more than 63 characters"]),
    ("a.b", ["must not contain dots"]),
    ("My", [LABEL_MSG]),
    ("a-", [LABEL_MSG]),
])
def test_dns1123_label(value, expected):
    assert v.is_dns1123_label(value) == expected


@pytest.mark.parametrize("value,expected", [
    ("my-name", []),
    ("1abc", [DNS1035_MSG]),
    ("a" * 64, ["must be no more than 63 characters"]),
])
def test_dns1035_label(value, expected):
    assert v.is_dns1035_label(value) == expected


@pytest.mark.parametrize("value,expected", [
    ("app", []),
    ("example.com/MyName", []),
    ("a_b.c-D", []),
    ("/name", ["prefix part must be non-empty"]),
    ("example.com/", ["name part must be non-empty", "name part " + QNAME_TAIL]),
    ("Example.com/x", ["prefix part " + SUBDOMAIN_MSG]),
    ("a" * 64, ["name part must be no more than 63 characters"]),
    ("-x", ["name part " + QNAME_TAIL]),
    ("a/b/c", ["a qualified name " + QNAME_TAIL
               + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]),
])
def test_qualified_name(value, expected):
    assert v.is_qualified_name(value) == expected


@pytest.mark.parametrize("value,expected", [
    ("", []),
    ("MyValue", []),
    ("a" * 63, []),
    ("a" * 64, ["must be no more than 63 characters"]),
    ("bad value", [LABEL_VALUE_MSG]),
    ("x-", [LABEL_VALUE_MSG]),
])
def test_label_value(value, expected):
    assert v.is_valid_label_value(value) == expected


@pytest.mark.parametrize("name,rule,prefix,expected", [
    ("..", "path", False, ["may not be '..'"]),
    (".", "path", False, ["may not be '.'"]),
    ("..", "path", True, []),  # a prefix gets a suffix appended, so only content rules apply
    ("a/b", "path", False, ["may not contain '/'"]),
    ("a%b/", "path", True, ["may not contain '/'", "may not contain '%'"]),
    ("Any Thing", "path", False, []),
    ("web-", "subdomain", True, []),   # trailing '-' allowed for generateName
    ("web-", "subdomain", False, [SUBDOMAIN_MSG]),
    ("Web-", "label", True, [LABEL_MSG]),
    ("1web-", "dns1035", True, [DNS1035_MSG]),
    ("a" * 64 + "-", "label", True, ["must be no more than 63 characters"]),
])
def test_name_rules(name, rule, prefix, expected):
    assert v.name_messages(name, rule, prefix) == expected


def test_unknown_name_rule_is_a_programming_error():
    with pytest.raises(ValueError):
        v.name_messages("x", "nope")


def test_labels_report_key_and_value_at_labels_path():
    errs = v.validate_labels({"ok": "fine", "app": "a" * 64, "b/c/d": ""})
    assert texts(errs) == [
        'metadata.labels: Invalid value: "' + "a" * 64 + '": must be no more than 63 characters',
        'metadata.labels: Invalid value: "b/c/d": a qualified name ' + QNAME_TAIL
        + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    ]
    assert all(e.type == "FieldValueInvalid" for e in errs)


def test_annotation_keys_are_checked_case_insensitively():
    assert v.validate_annotations({"Example.COM/Key": "x", "UPPER": "y"}) == []
    errs = v.validate_annotations({"a b": "x"})
    assert texts(errs) == ['metadata.annotations: Invalid value: "a b": name part ' + QNAME_TAIL]


@pytest.mark.parametrize("value_len,too_long", [(262143, False), (262144, True)])
def test_annotation_total_size_limit(value_len, too_long):
    # key "k" (1 byte) + value: exactly 262144 bytes passes, one more fails
    errs = v.validate_annotations({"k": "x" * value_len})
    if not too_long:
        assert errs == []
    else:
        assert texts(errs) == ["metadata.annotations: Too long: may not be more than 262144 bytes"]
        assert errs[0].type == "FieldValueTooLong"


def test_annotation_size_counts_bytes_not_characters():
    assert v.validate_annotations({"k": "é" * 131072}) != []  # 262144 bytes + 1 key byte


@pytest.mark.parametrize("finalizers,builtin,expected", [
    (["kubernetes", "orphan", "example.com/x"], True, []),
    (["foo"], False, []),
    (["foo"], True, ['metadata.finalizers[0]: Invalid value: "foo": name is neither a standard '
                     "finalizer name nor is it fully qualified"]),
    (["orphan", "foregroundDeletion"], True,
     ['metadata.finalizers: Invalid value: []string{"orphan", "foregroundDeletion"}: finalizer '
      "orphan and foregroundDeletion cannot be both set"]),
    (["a/b/c"], False, ['metadata.finalizers: Invalid value: "a/b/c": a qualified name '
                        + QNAME_TAIL + " with an optional DNS subdomain prefix and '/' "
                        "(e.g. 'example.com/MyName')"]),
])
def test_finalizers(finalizers, builtin, expected):
    assert texts(v.validate_finalizers(finalizers, builtin=builtin)) == expected


def test_finalizer_warnings_for_custom_resources_only_cover_new_names():
    warnings = v.finalizer_warnings(["foo", "foo.io", "orphan", "ex.io/ok", "old"], ["old"])
    assert warnings == [
        'metadata.finalizers: "foo": prefer a domain-qualified finalizer name to avoid '
        "accidental conflicts with other finalizer writers",
        'metadata.finalizers: "foo.io": prefer a domain-qualified finalizer name including a '
        "path (/) to avoid accidental conflicts with other finalizer writers",
    ]


def owner(**kw):
    ref = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u1"}
    ref.update(kw)
    return ref


@pytest.mark.parametrize("refs,expected", [
    ([owner(), owner(name="b", uid="u2")], []),
    ([owner(apiVersion="apps/")], ['metadata.ownerReferences.apiVersion: Invalid value: '
                                   '"apps/": version must not be empty']),
    ([owner(apiVersion="a/b/c")], ['metadata.ownerReferences.apiVersion: Invalid value: '
                                   '"a/b/c": version must not be empty']),
    ([owner(kind="", name="", uid="")], [
        'metadata.ownerReferences.kind: Invalid value: "": kind must not be empty',
        'metadata.ownerReferences.name: Invalid value: "": name must not be empty',
        'metadata.ownerReferences.uid: Invalid value: "": uid must not be empty']),
])
def test_owner_reference_fields(refs, expected):
    assert texts(v.validate_owner_references(refs)) == expected


def test_owner_references_allow_one_controller():
    refs = [owner(controller=True), owner(name="b", uid="u2", controller=False)]
    assert v.validate_owner_references(refs) == []
    refs.append(owner(kind="StatefulSet", name="s", uid="u3", controller=True))
    (err,) = v.validate_owner_references(refs)
    assert err.field == "metadata.ownerReferences"
    assert err.detail == ('Only one reference can have Controller set to true. Found "true" in '
                          "references for ReplicaSet/rs and StatefulSet/s")


def test_event_cannot_be_an_owner():
    (err,) = v.validate_owner_references([owner(apiVersion="v1", kind="Event")])
    assert err.detail == "/v1, Kind=Event is disallowed from being an owner"


@pytest.mark.parametrize("meta,namespaced,rule,expected", [
    ({"name": "ok", "namespace": "default"}, True, "subdomain", []),
    ({"name": "ok"}, False, "subdomain", []),
    ({}, True, "subdomain", ["metadata.name: Required value: name or generateName is required",
                             "metadata.namespace: Required value"]),
    ({"generateName": "web-", "namespace": "ns"}, True, "label", []),
    ({"generateName": "Web-", "namespace": "ns"}, True, "label",
     ['metadata.generateName: Invalid value: "Web-": ' + LABEL_MSG]),
    ({"name": "x", "namespace": "ns"}, False, "subdomain",
     ["metadata.namespace: Forbidden: not allowed on this type"]),
    ({"name": "x", "namespace": "Bad_NS"}, True, "subdomain",
     ['metadata.namespace: Invalid value: "Bad_NS": ' + LABEL_MSG]),
    ({"name": "Foo", "namespace": "ns"}, True, "subdomain",
     ['metadata.name: Invalid value: "Foo": ' + SUBDOMAIN_MSG]),
    ({"name": "a" * 254, "namespace": "ns"}, True, "subdomain",
     ['metadata.name: Invalid value: "' + "a" * 254 + '": must be no more than 253 characters']),
    ({"name": "..", "namespace": "ns"}, True, "path",
     ['metadata.name: Invalid value: "..": may not be \'..\'']),
    ({"name": "a/b"}, False, "path", ['metadata.name: Invalid value: "a/b": may not contain \'/\'']),
    ({"name": "x", "generation": -1}, False, "subdomain",
     ["metadata.generation: Invalid value: -1: must be greater than or equal to 0"]),
])
def test_object_meta(meta, namespaced, rule, expected):
    assert texts(v.validate_object_meta(meta, namespaced, rule)) == expected


def test_object_meta_checks_nested_fields_with_paths():
    meta = {"name": "x", "labels": {"k": "v" * 64}, "annotations": {"k": "v" * 262144},
            "finalizers": ["bad"], "ownerReferences": [owner(uid="")]}
    fields = [e.field for e in v.validate_object_meta(meta, False, "subdomain", path="meta")]
    assert fields == ["meta.labels", "meta.annotations", "meta.ownerReferences.uid",
                      "meta.finalizers[0]"]
    assert v.validate_object_meta(meta, False, "subdomain", builtin=False)[-1].field \
        == "metadata.ownerReferences.uid"


OLD = {"name": "a", "namespace": "ns", "uid": "u1", "creationTimestamp": "2024-01-01T00:00:00Z",
       "resourceVersion": "5", "generation": 2, "finalizers": ["ex.io/a"]}


def updated(**kw):
    new = dict(OLD)
    new.update(kw)
    return new


@pytest.mark.parametrize("new,old,expected", [
    (updated(), OLD, []),
    (updated(labels={"a": "b"}, generation=3), OLD, []),
    (updated(name="b"), OLD, ['metadata.name: Invalid value: "b": field is immutable']),
    (updated(namespace="other"), OLD,
     ['metadata.namespace: Invalid value: "other": field is immutable']),
    (updated(uid="u2"), OLD, ['metadata.uid: Invalid value: "u2": field is immutable']),
    (updated(creationTimestamp="2024-01-01T00:00:01Z"), OLD,
     ["metadata.creationTimestamp: Invalid value: 2024-01-01 00:00:01 +0000 UTC: "
      "field is immutable"]),
    (updated(creationTimestamp="2024-01-01T00:00:00+00:00"), OLD, []),  # same instant
    (updated(generation=1), OLD, ["metadata.generation: Invalid value: 1: must not be decremented"]),
    (updated(), updated(deletionTimestamp="2024-02-01T00:00:00Z"),
     ["metadata.deletionTimestamp: Invalid value: null: field is immutable"]),
    (updated(deletionTimestamp="2024-02-01T00:00:00Z"), OLD,
     ["metadata.deletionTimestamp: Invalid value: 2024-02-01 00:00:00 +0000 UTC: "
      "field is immutable"]),
    (updated(deletionTimestamp="2024-02-01T00:00:00Z", finalizers=["ex.io/a", "ex.io/c", "ex.io/b"]),
     updated(deletionTimestamp="2024-02-01T00:00:00Z"),
     ['metadata.finalizers: Forbidden: no new finalizers can be added if the object is being '
      'deleted, found new finalizers []string{"ex.io/b", "ex.io/c"}']),
    (updated(deletionTimestamp="2024-02-01T00:00:00Z", finalizers=[]),
     updated(deletionTimestamp="2024-02-01T00:00:00Z"), []),  # removing is how deletion ends
    (updated(finalizers=["ex.io/a", "ex.io/new"]), OLD, []),  # adding is fine before deletion
    (updated(finalizers=["nope"]), OLD,
     ['metadata.finalizers[0]: Invalid value: "nope": name is neither a standard finalizer '
      "name nor is it fully qualified"]),
    (updated(labels={"k": "-"}), OLD, ['metadata.labels: Invalid value: "-": ' + LABEL_VALUE_MSG]),
])
def test_object_meta_update(new, old, expected):
    assert texts(v.validate_object_meta_update(new, old)) == expected


def test_update_resource_version_requirement_is_opt_in():
    new = updated(resourceVersion="")
    assert v.validate_object_meta_update(new, OLD) == []
    assert texts(v.validate_object_meta_update(new, OLD, require_resource_version=True)) == [
        'metadata.resourceVersion: Invalid value: "": must be specified for an update']


@pytest.mark.parametrize("port,ok", [(0, False), (1, True), (65535, True), (65536, False),
                                     (-1, False)])
def test_port_number(port, ok):
    expected = [] if ok else [
        f"spec.ports[0].port: Invalid value: {port}: must be between 1 and 65535, inclusive"]
    assert texts(v.validate_port_number(port, "spec.ports[0].port")) == expected


@pytest.mark.parametrize("name,expected", [
    ("http", []),
    ("8080", ["must contain at least one letter (a-z)"]),
    ("a" * 16, ["must be no more than 15 characters"]),
    ("-web--", ["must not contain consecutive hyphens", "must not begin or end with a hyphen"]),
    ("Web", ["must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"]),
])
def test_port_name(name, expected):
    assert [e.detail for e in v.validate_port_name(name, "p")] == expected


def test_container_name_helper_is_a_dns_label():
    assert v.validate_dns1123_label_field("nginx", "spec.containers[0].name") == []
    assert texts(v.validate_dns1123_label_field("Nginx", "spec.containers[0].name")) == [
        'spec.containers[0].name: Invalid value: "Nginx": ' + LABEL_MSG]


def test_nonnegative():
    assert v.validate_nonnegative(0, "x") == []
    assert texts(v.validate_nonnegative(-3, "spec.replicas")) == [
        "spec.replicas: Invalid value: -3: must be greater than or equal to 0"]


@pytest.mark.parametrize("value,nonneg,expected", [
    ("100m", True, []),
    ("1Gi", True, []),
    (2, True, []),
    ("2e3", False, []),
    ("-1", False, []),
    ("-1", True, ['q: Invalid value: "-1": must be greater than or equal to 0']),
    ("-500m", True, ['q: Invalid value: "-500m": must be greater than or equal to 0']),
    ("1x", False, ["q: Invalid value: \"1x\": quantities must match the regular expression "
                   "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"]),
    ("1e", False, ['q: Invalid value: "1e": unable to parse quantity\'s suffix']),
])
def test_quantity_field(value, nonneg, expected):
    assert texts(v.validate_quantity(value, "q", nonnegative=nonneg)) == expected
