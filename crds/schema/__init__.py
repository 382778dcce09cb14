"""Custom resources against their CRD version's ``openAPIV3Schema``: validation, pruning
and defaulting as kube-apiserver 1.32 does them, with upstream's messages and field paths.

Pure functions over decoded JSON; no Django, no storage.  The public API:

* :func:`validate` ``(schema, obj, old=None) -> list[FieldError]`` — what the custom
  resource strategy's ``Validate``/``ValidateUpdate`` add after ObjectMeta validation
  (apiextensions-apiserver ``pkg/registry/customresource/strategy.go``): the OpenAPI value
  validation (``openapi.py``, ratcheting on update), embedded resources' TypeMeta/ObjectMeta
  (``objectmeta.py``), list-type set/map duplicates (``lists.py``) and, unless one of those
  errors is blocking (NotSupported, Required, TooLong, TooMany, TypeInvalid), the
  ``x-kubernetes-validations`` CEL rules (``cel.py``).
* :func:`validate_status` ``(schema, obj, old)`` — the same for a ``/status`` update.

Both take ``prior_errors=`` (keyword): the caller's own errors for the object (ObjectMeta),
which upstream counts when it decides whether the CEL rules may run.
* :func:`prune` ``(schema, obj) -> list[str]`` — drops unknown fields in place and returns
  their sorted paths, for ``unknown field "<path>"`` (``pruning.py``).
* :func:`apply_defaults` ``(schema, obj) -> None`` — schema defaults, in place
  (``defaulting.py``).

The schema is compiled once per schema object (``compiled.py``: patterns and CEL programs
included) and reused by every later call with the same dict; treat it as immutable.

May import: the standard library, celpy, ``apiserver.runtime`` and
``apiserver.authentication.oidc_cel`` (read-only use of its CEL functions).
"""
from __future__ import annotations

from apiserver.runtime.errors import FieldError

from . import cel, defaulting, lists, objectmeta, openapi, pruning
from .compiled import compile_schema
from .fielderrors import invalid

__all__ = ["validate", "validate_status", "prune", "apply_defaults", "compile_schema",
           "unknown_field_message"]

BLOCKING = frozenset(("FieldValueNotSupported", "FieldValueRequired", "FieldValueTooLong",
                      "FieldValueTooMany", "FieldValueTypeInvalid"))
NOT_CHECKED = ("some validation rules were not checked because the object was invalid; "
               "correct the existing errors to complete validation")


def _with_rules(root, errs: list, obj: dict, prior, prior_errors) -> list:
    # strategy.go: the CEL rules run unless an error so far (ObjectMeta ones included) blocks
    if root.has_rules_below:
        if any(e.type in BLOCKING for e in [*prior_errors, *errs]):
            errs.append(invalid("", None, NOT_CHECKED))
        else:
            errs += cel.validate(root, obj, prior)
    return errs


def validate(schema: dict, obj: dict, old: dict | None = None, *,
             prior_errors: list[FieldError] = ()) -> list[FieldError]:
    """Field errors of ``obj`` (create) or of ``obj`` replacing ``old`` (update).

    ``prior_errors`` are the errors the caller already has for this object (its ObjectMeta
    validation); upstream counts them when deciding whether the CEL rules may run."""
    root = compile_schema(schema).root
    prior = openapi.MISSING if old is None else old
    errs = openapi.validate(root, obj, prior)
    errs += objectmeta.validate(root, obj)
    errs += lists.validate(root, obj) if old is None else lists.validate_update(root, obj, old)
    return _with_rules(root, errs, obj, prior, prior_errors)


def validate_status(schema: dict, obj: dict, old: dict, *,
                    prior_errors: list[FieldError] = ()) -> list[FieldError]:
    """Field errors of a ``/status`` update (``customResourceStatusStrategy``): the value
    validation of ``.status`` alone, against the schema's ``status`` property, at the field
    path ``status`` (messages name paths relative to it, as upstream); then embedded
    resources, list types (only when the new object has duplicates and the old had none)
    and the CEL rules over the whole object."""
    root = compile_schema(schema).root
    errs = []
    status_schema = root.properties.get("status")
    if status_schema is not None and isinstance(obj, dict) and "status" in obj:
        old_status = old.get("status", openapi.MISSING) if isinstance(old, dict) else openapi.MISSING
        errs += openapi.validate(status_schema, obj["status"], old_status, "status")
    errs += objectmeta.validate(root, obj)
    if lists.validate(root, obj):
        errs += lists.validate_update(root, obj, old)
    return _with_rules(root, errs, obj, old, prior_errors)


def prune(schema: dict, obj: dict) -> list[str]:
    """Removes the fields ``schema`` does not describe from ``obj``; returns their paths."""
    return pruning.prune(compile_schema(schema).root, obj)


def apply_defaults(schema: dict, obj: dict) -> None:
    """Applies the schema's ``default`` values to ``obj`` in place."""
    defaulting.apply(obj, compile_schema(schema).root)


def unknown_field_message(path: str) -> str:
    """The strict-decoding text of one pruned path: ``unknown field "spec.foo"``."""
    return f'unknown field "{path}"'
