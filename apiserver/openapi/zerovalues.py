"""The zero values Go writes whether or not they were set.

kube-apiserver encodes typed Go structs: a struct-typed field (an object's ``status``) is
always written, even empty, and a scalar field without ``omitempty`` is written with its
zero value.  Clients rely on it — the official Python client refuses a DaemonSet whose
``status.numberReady`` is missing, because its model marks the field required.  The
OpenAPI ``required`` list of the status type names exactly those fields, so this module
fills them from the schema (golang/go:src/encoding/json/encode.go, omitempty; the types in
kubernetes/api:apps/v1/types.go and friends).

May import: apiserver.openapi.definitions.
"""
from __future__ import annotations

from apiserver.openapi import definitions as defs

_ZERO = {"integer": 0, "number": 0, "boolean": False, "string": ""}


def fill_status(obj: dict, schema: dict | None) -> None:
    """Give ``obj`` a ``status`` object when its type has a status struct, and every
    required scalar field of that struct its zero value when absent."""
    if schema is None:
        return
    prop = (schema.get("properties") or {}).get("status")
    status_schema = defs.resolve(prop) if prop is not None else None
    if not status_schema or not status_schema.get("properties") \
            or "object" not in defs.types_of(status_schema):
        return
    status = obj.get("status")
    if status is None:
        status = obj["status"] = {}
    if not isinstance(status, dict):
        return                                 # a type error; decoding reports it
    for name in status_schema.get("required") or ():
        if name in status:
            continue
        types = defs.types_of(defs.resolve(status_schema["properties"].get(name)))
        if len(types) == 1 and next(iter(types)) in _ZERO:
            status[name] = _ZERO[next(iter(types))]
