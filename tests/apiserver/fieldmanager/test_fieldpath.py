"""fields_of and the FieldsV1 wire format, checked against upstream-derived literals."""
import pytest

from apiserver.fieldmanager import FieldPathError, fields_of, from_fields_v1, \
    path_string, to_fields_v1
from apiserver.openapi import definitions

POD = definitions.get("io.k8s.api.core.v1.Pod")
DEPLOYMENT = definitions.get("io.k8s.api.apps.v1.Deployment")


def f(*names):
    return tuple(("f", n) for n in names)


def k(**keys):
    return ("k", tuple(sorted(keys.items())))


def pod():
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default", "uid": "u", "resourceVersion": "7",
                     "labels": {"app": "web"}, "finalizers": ["example.com/x"]},
        "spec": {"containers": [{
            "name": "c", "image": "nginx:1.27",
            "ports": [{"containerPort": 80, "protocol": "TCP"},
                      {"containerPort": 53, "protocol": "UDP"}],
            "env": [{"name": "MODE", "value": "prod"}],
            "args": ["-v", "2"],
        }]},
    }


# Derived by hand from upstream's ToFieldSet + FieldsV1 rules: named struct fields are parents
# only, list-map items are members with "." when they have children, atomic lists are leaves,
# set items are v: members, map keys (labels) are members, server-owned metadata is stripped.
POD_FIELDS_V1 = {
    "f:metadata": {
        "f:finalizers": {'v:"example.com/x"': {}},
        "f:labels": {"f:app": {}},
    },
    "f:spec": {
        "f:containers": {
            'k:{"name":"c"}': {
                ".": {},
                "f:args": {},
                "f:env": {'k:{"name":"MODE"}': {".": {}, "f:name": {}, "f:value": {}}},
                "f:image": {},
                "f:name": {},
                "f:ports": {
                    'k:{"containerPort":53,"protocol":"UDP"}': {
                        ".": {}, "f:containerPort": {}, "f:protocol": {}},
                    'k:{"containerPort":80,"protocol":"TCP"}': {
                        ".": {}, "f:containerPort": {}, "f:protocol": {}},
                },
            },
        },
    },
}


def test_pod_fields_v1_matches_upstream_shape():
    assert to_fields_v1(fields_of(pod(), POD)) == POD_FIELDS_V1


def test_fields_v1_key_order_follows_upstream():
    encoded = to_fields_v1(fields_of(pod(), POD))
    container = encoded["f:spec"]["f:containers"]['k:{"name":"c"}']
    assert list(container) == [".", "f:args", "f:env", "f:image", "f:name", "f:ports"]
    # keys compare field by field: containerPort 53 sorts before 80
    assert list(container["f:ports"]) == ['k:{"containerPort":53,"protocol":"UDP"}',
                                          'k:{"containerPort":80,"protocol":"TCP"}']


def test_fields_of_paths_and_stripping():
    paths = fields_of(pod(), POD)
    c = f("spec", "containers") + (k(name="c"),)
    assert c in paths and c + f("image") in paths
    assert c + f("ports") + (k(containerPort=80, protocol="TCP"),) + f("protocol") in paths
    assert c + f("args") in paths                       # atomic list: a leaf
    assert not any(p[:len(c) + 1] == c + f("args") and len(p) > len(c) + 1 for p in paths)
    assert f("metadata", "finalizers") + (("v", "example.com/x"),) in paths
    assert f("spec") not in paths and f("spec", "containers") not in paths
    for stripped in [f("apiVersion"), f("kind"), f("metadata"), f("metadata", "name"),
                     f("metadata", "namespace"), f("metadata", "uid"),
                     f("metadata", "resourceVersion")]:
        assert stripped not in paths


def test_multi_key_list_map_uses_schema_default_for_missing_protocol():
    obj = {"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80}]}]}}
    paths = fields_of(obj, POD)
    item = f("spec", "containers") + (k(name="c"),) + f("ports") + \
        (k(containerPort=80, protocol="TCP"),)
    assert item in paths
    assert 'k:{"containerPort":80,"protocol":"TCP"}' in \
        to_fields_v1(paths)["f:spec"]["f:containers"]['k:{"name":"c"}']["f:ports"]


def test_round_trip_literal():
    assert to_fields_v1(from_fields_v1(POD_FIELDS_V1)) == POD_FIELDS_V1
    paths = fields_of(pod(), POD)
    assert from_fields_v1(to_fields_v1(paths)) == paths


def test_dot_marks_member_with_children_and_parsing_rules():
    parsed = from_fields_v1({"f:spec": {"f:template": {".": {}, "f:x": {}}, "f:y": {}},
                             "z:unknown": {}})
    assert parsed == {f("spec", "template"), f("spec", "template", "x"), f("spec", "y")}
    assert to_fields_v1({f("a"), f("a", "b")}) == {"f:a": {".": {}, "f:b": {}}}
    assert to_fields_v1({f("a", "b")}) == {"f:a": {"f:b": {}}}


def test_value_and_index_elements_round_trip():
    paths = {f("s") + (("v", 3),), f("s") + (("v", "a<b"),), f("l") + (("i", 0),) + f("x")}
    encoded = to_fields_v1(paths)
    assert encoded == {"f:l": {"i:0": {"f:x": {}}}, "f:s": {"v:3": {}, 'v:"a\\u003cb"': {}}}
    assert from_fields_v1(encoded) == paths


@pytest.mark.parametrize("bad", [{"x": {}}, {"f:a": []}, {'k:{"a":': {}}])
def test_malformed_fields_v1_raises(bad):
    with pytest.raises(FieldPathError):
        from_fields_v1(bad)


def test_untyped_objects_treat_maps_granular_and_lists_atomic():
    obj = {"spec": {"size": 3, "tags": ["a", "b"], "nested": {"x": 1}}}
    assert to_fields_v1(fields_of(obj, None)) == {
        "f:spec": {".": {}, "f:nested": {".": {}, "f:x": {}}, "f:size": {}, "f:tags": {}}}


def test_atomic_map_and_empty_values():
    obj = {"spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {}},
                    "paused": None}}
    assert to_fields_v1(fields_of(obj, DEPLOYMENT)) == {
        "f:spec": {"f:paused": {}, "f:selector": {}, "f:template": {"f:metadata": {}}}}


def test_path_string_format():
    assert path_string(f("spec", "replicas")) == ".spec.replicas"
    p = f("spec", "containers") + (k(name="c"),) + f("ports") + \
        (k(containerPort=80, protocol="TCP"),) + f("hostPort")
    assert path_string(p) == \
        '.spec.containers[name="c"].ports[containerPort=80,protocol="TCP"].hostPort'
    assert path_string(f("metadata", "finalizers") + (("v", "x"),)) == \
        '.metadata.finalizers[="x"]'


def test_list_map_item_without_keys_is_an_error():
    with pytest.raises(FieldPathError):
        fields_of({"spec": {"containers": [{"image": "x"}]}}, POD)
