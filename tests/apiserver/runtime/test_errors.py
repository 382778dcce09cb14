"""Field error texts as apimachinery's field.Error renders them."""
from __future__ import annotations

from apiserver.runtime import errors
from apiserver.runtime.errors import FieldError


def test_too_many_shows_the_actual_quantity():
    err = FieldError("FieldValueTooMany", "endpoints", 1001, "must have at most 1000 items")
    assert err.error_text() == "endpoints: Too many: 1001: must have at most 1000 items"
    bare = FieldError("FieldValueTooMany", "jwt", None, "must have at most 64 items")
    assert bare.error_text() == "jwt: Too many: must have at most 64 items"


def test_values_and_details():
    assert errors.invalid("spec.x", "a", "bad").error_text() == 'spec.x: Invalid value: "a": bad'
    assert errors.required("spec.y").error_text() == "spec.y: Required value"
    assert errors.too_long("spec.z", "long", 3).error_text() == \
        "spec.z: Too long: must have at most 3 bytes"
    assert errors.not_supported("spec.w", "q", ["a", "b"]).error_text() == \
        'spec.w: Unsupported value: "q": supported values: "a", "b"'
