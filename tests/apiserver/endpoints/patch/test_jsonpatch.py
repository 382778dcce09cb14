"""RFC 6902 JSON Patch engine: RFC appendix examples, kube-apiserver limits and error codes."""
import copy

import pytest

from apiserver.endpoints.patch.jsonpatch import (APPLY_FAILED_MESSAGE, MAX_COPY_BYTES,
                                                 apply_json_patch)
from apiserver.runtime import errors


def _invalid(doc, ops) -> errors.Invalid:
    with pytest.raises(errors.Invalid) as info:
        apply_json_patch(doc, ops)
    assert info.value.code == 422
    assert info.value.message == APPLY_FAILED_MESSAGE
    assert info.value.to_status()["reason"] == "Invalid"
    return info.value


# -- RFC 6902 appendix A ------------------------------------------------------------------

def test_add_object_member():
    assert apply_json_patch({"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}]) \
        == {"foo": "bar", "baz": "qux"}


def test_add_array_element_inserts_before_index():
    assert apply_json_patch({"foo": ["bar", "baz"]},
                            [{"op": "add", "path": "/foo/1", "value": "qux"}]) \
        == {"foo": ["bar", "qux", "baz"]}


def test_add_dash_appends():
    assert apply_json_patch({"foo": [1, 2]}, [{"op": "add", "path": "/foo/-", "value": 3}]) \
        == {"foo": [1, 2, 3]}


def test_add_at_array_length_appends_but_beyond_fails():
    assert apply_json_patch({"a": [1]}, [{"op": "add", "path": "/a/1", "value": 2}]) == {"a": [1, 2]}
    _invalid({"a": [1]}, [{"op": "add", "path": "/a/3", "value": 2}])


def test_remove_object_member_and_array_element():
    doc = {"baz": "qux", "foo": "bar", "list": ["a", "b", "c"]}
    assert apply_json_patch(doc, [{"op": "remove", "path": "/baz"},
                                  {"op": "remove", "path": "/list/1"}]) \
        == {"foo": "bar", "list": ["a", "c"]}


def test_replace_value():
    assert apply_json_patch({"baz": "qux", "foo": "bar"},
                            [{"op": "replace", "path": "/baz", "value": "boo"}]) \
        == {"baz": "boo", "foo": "bar"}


def test_move_value_and_array_element():
    doc = {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}}
    assert apply_json_patch(doc, [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}]) \
        == {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}}
    assert apply_json_patch({"foo": ["all", "grass", "cows", "eat"]},
                            [{"op": "move", "from": "/foo/1", "path": "/foo/3"}]) \
        == {"foo": ["all", "cows", "eat", "grass"]}


def test_copy_is_deep():
    out = apply_json_patch({"a": {"x": [1]}}, [{"op": "copy", "from": "/a", "path": "/b"},
                                                 {"op": "add", "path": "/b/x/-", "value": 2}])
    assert out == {"a": {"x": [1]}, "b": {"x": [1, 2]}}


def test_successful_test_operation():
    doc = {"baz": "qux", "foo": ["a", 2, "c"]}
    assert apply_json_patch(doc, [{"op": "test", "path": "/baz", "value": "qux"},
                                  {"op": "test", "path": "/foo/1", "value": 2}]) == doc


def test_failed_test_is_422_and_nothing_applies():
    doc = {"baz": "qux", "n": 1}
    err = _invalid(doc, [{"op": "replace", "path": "/n", "value": 2},
                         {"op": "test", "path": "/baz", "value": "bar"}])
    assert err.patch_error == "testing value /baz failed: test failed"
    assert doc == {"baz": "qux", "n": 1}


def test_test_compares_json_types_strictly():
    _invalid({"n": 1}, [{"op": "test", "path": "/n", "value": True}])
    _invalid({"n": 1}, [{"op": "test", "path": "/n", "value": 1.0}])
    assert apply_json_patch({"n": {"a": [1, "x"]}},
                            [{"op": "test", "path": "/n", "value": {"a": [1, "x"]}}]) \
        == {"n": {"a": [1, "x"]}}


def test_test_null_matches_missing_member_like_upstream():
    assert apply_json_patch({"a": 1}, [{"op": "test", "path": "/b", "value": None}]) == {"a": 1}


def test_pointer_escapes():
    doc = {"a/b": 1, "m~n": 2}
    assert apply_json_patch(doc, [{"op": "replace", "path": "/a~1b", "value": 10},
                                  {"op": "replace", "path": "/m~0n", "value": 20},
                                  {"op": "add", "path": "/~01", "value": 3}]) \
        == {"a/b": 10, "m~n": 20, "~1": 3}


def test_escaped_annotation_key_like_kubectl():
    doc = {"metadata": {"annotations": {"example.com/x": "1"}}}
    out = apply_json_patch(doc, [{"op": "remove", "path": "/metadata/annotations/example.com~1x"}])
    assert out == {"metadata": {"annotations": {}}}


def test_negative_index_counts_from_end():
    assert apply_json_patch({"a": [1, 2, 3]}, [{"op": "remove", "path": "/a/-1"}]) == {"a": [1, 2]}


def test_input_document_is_not_mutated():
    doc = {"spec": {"list": [1, 2]}}
    before = copy.deepcopy(doc)
    out = apply_json_patch(doc, [{"op": "add", "path": "/spec/list/-", "value": 3}])
    assert doc == before
    assert out["spec"]["list"] == [1, 2, 3]


def test_replace_missing_member_adds_it_like_upstream():
    assert apply_json_patch({"a": 1}, [{"op": "replace", "path": "/b", "value": 2}]) \
        == {"a": 1, "b": 2}


def test_replace_whole_document():
    assert apply_json_patch({"a": 1}, [{"op": "replace", "path": "", "value": {"b": 2}}]) == {"b": 2}


def test_empty_and_null_patch_are_noops():
    assert apply_json_patch({"a": 1}, []) == {"a": 1}
    assert apply_json_patch({"a": 1}, None) == {"a": 1}


# -- failures -----------------------------------------------------------------------------

@pytest.mark.parametrize("ops", [
    [{"op": "remove", "path": "/missing"}],
    [{"op": "add", "path": "/no/such/parent", "value": 1}],
    [{"op": "replace", "path": "/a/5", "value": 1}],
    [{"op": "remove", "path": "/a/x"}],
    [{"op": "add", "path": "a", "value": 1}],
    [{"op": "add", "path": "", "value": {}}],
    [{"op": "move", "from": "/nope", "path": "/b"}],
    [{"op": "move", "from": "/a", "path": "/a/0"}],
    [{"op": "frobnicate", "path": "/a"}],
    [{"path": "/a"}],
    [{"op": "add", "value": 1}],
    [{"op": "test", "path": "/a/9", "value": 1}],
])
def test_application_failures_are_generic_422(ops):
    _invalid({"a": [1]}, ops)


@pytest.mark.parametrize("body,kind", [({"op": "add"}, "object"), ("x", "string"), (3, "number")])
def test_patch_that_is_not_an_array_is_400(body, kind):
    with pytest.raises(errors.BadRequest) as info:
        apply_json_patch({}, body)
    assert info.value.code == 400
    assert info.value.message == \
        f"json: cannot unmarshal {kind} into Go value of type jsonpatch.Patch"


def test_operation_that_is_not_an_object_is_400():
    with pytest.raises(errors.BadRequest) as info:
        apply_json_patch({}, ["add"])
    assert info.value.message == \
        "json: cannot unmarshal string into Go value of type jsonpatch.Operation"


# -- limits -------------------------------------------------------------------------------

def test_10000_operations_are_allowed():
    ops = [{"op": "test", "path": "/a", "value": 1}] * 10000
    assert apply_json_patch({"a": 1}, ops) == {"a": 1}


def test_10001_operations_are_413():
    ops = [{"op": "test", "path": "/a", "value": 1}] * 10001
    with pytest.raises(errors.RequestEntityTooLarge) as info:
        apply_json_patch({"a": 1}, ops)
    assert info.value.code == 413
    assert info.value.message == ("Request entity too large: The allowed maximum operations "
                                  "in a JSON patch is 10000, got 10001")


def test_copy_doubling_stops_at_copy_budget():
    # Each copy appends the list to itself, doubling the document: ~1 KiB becomes >3 MiB after
    # a dozen operations, long before the 40 listed ones (2^40 KiB) could be materialised.
    doc = {"a": ["x" * 1024]}
    ops = [{"op": "copy", "from": "/a", "path": "/a/-"}] * 40
    err = _invalid(doc, ops)
    assert err.patch_error.startswith(
        "Unable to complete the copy, the accumulated size increase of copy is ")
    assert err.patch_error.endswith(f"exceeding the limit {MAX_COPY_BYTES}")
    accumulated = int(err.patch_error.split(" is ")[1].split(",")[0])
    assert MAX_COPY_BYTES < accumulated < 2 * MAX_COPY_BYTES + 4096


def test_copies_under_budget_succeed():
    doc = {"a": "y" * 1000}
    ops = [{"op": "copy", "from": "/a", "path": f"/b{i}"} for i in range(100)]
    out = apply_json_patch(doc, ops)
    assert len(out) == 101 and out["b99"] == "y" * 1000


def test_copy_of_missing_member_copies_null_like_upstream():
    assert apply_json_patch({"a": 1}, [{"op": "copy", "from": "/zz", "path": "/b"}]) \
        == {"a": 1, "b": None}
