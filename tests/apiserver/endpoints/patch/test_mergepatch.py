"""RFC 7386 JSON merge patch engine."""
import copy

import pytest

from apiserver.endpoints.patch.mergepatch import apply_merge_patch
from apiserver.runtime import errors


# RFC 7386 appendix A (the cases whose target and patch are objects).
@pytest.mark.parametrize("target,patch,expected", [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
])
def test_rfc7386_examples(target, patch, expected):
    assert apply_merge_patch(target, patch) == expected


def test_rfc7386_section3_example():
    target = {"title": "Goodbye!", "author": {"givenName": "John", "familyName": "Doe"},
              "tags": ["example", "sample"], "content": "This will be unchanged"}
    patch = {"title": "Hello!", "phoneNumber": "+01-123-456-7890",
             "author": {"familyName": None}, "tags": ["example"]}
    assert apply_merge_patch(target, patch) == {
        "title": "Hello!", "author": {"givenName": "John"}, "tags": ["example"],
        "content": "This will be unchanged", "phoneNumber": "+01-123-456-7890"}


def test_lists_replace_wholesale_even_for_kubernetes_merge_lists():
    pod = {"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}}
    out = apply_merge_patch(pod, {"spec": {"containers": [{"name": "a", "image": "z"}]}})
    assert out == {"spec": {"containers": [{"name": "a", "image": "z"}]}}


def test_null_deletes_label_and_keeps_siblings():
    obj = {"metadata": {"name": "n", "labels": {"a": "1", "b": "2"}}}
    assert apply_merge_patch(obj, {"metadata": {"labels": {"a": None}}}) \
        == {"metadata": {"name": "n", "labels": {"b": "2"}}}


def test_placed_values_have_null_members_pruned_inside_arrays_too():
    out = apply_merge_patch({}, {"list": [{"a": 1, "b": None}, None]})
    assert out == {"list": [{"a": 1}, None]}


def test_input_is_not_mutated_and_result_is_independent():
    doc = {"spec": {"x": {"y": 1}}}
    patch = {"spec": {"x": {"z": {"w": 2}}}}
    before, pbefore = copy.deepcopy(doc), copy.deepcopy(patch)
    out = apply_merge_patch(doc, patch)
    assert out == {"spec": {"x": {"y": 1, "z": {"w": 2}}}}
    out["spec"]["x"]["z"]["w"] = 3
    assert doc == before and patch == pbefore


def test_empty_patch_is_noop():
    assert apply_merge_patch({"a": [1]}, {}) == {"a": [1]}


@pytest.mark.parametrize("patch", [None, [1], "x", 5, True])
def test_non_object_patch_is_400(patch):
    with pytest.raises(errors.BadRequest) as info:
        apply_merge_patch({"a": 1}, patch)
    assert info.value.code == 400
    assert info.value.message == "Invalid JSON Patch"
