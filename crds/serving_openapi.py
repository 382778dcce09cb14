"""The OpenAPI v3 schema of one served custom resource version.

Upstream: kubernetes/apiextensions-apiserver:pkg/controller/openapi/builder/builder.go
publishes a CRD version's ``openAPIV3Schema`` as the kind's schema, with ``apiVersion``,
``kind`` and ``metadata`` (a reference to ObjectMeta) filled in and the kind's
group-version-kind attached, so ``kubectl explain`` and kubectl's client-side validation
find it.  The documents themselves are built by ``apiserver.openapi.documents`` from the
Strategy's ``openapi_schema``.

May import: apiserver.openapi, the standard library.
"""
from __future__ import annotations

import copy

from apiserver.openapi import schemas

API_VERSION_DESCRIPTION = (
    "APIVersion defines the versioned schema of this representation of an object. Servers "
    "should convert recognized schemas to the latest internal value, and may reject "
    "unrecognized values. More info: https://git.k8s.io/community/contributors/devel/"
    "sig-architecture/api-conventions.md#resources")
KIND_DESCRIPTION = (
    "Kind is a string value representing the REST resource this object represents. Servers "
    "may infer this from the endpoint the client submits requests to. Cannot be updated. In "
    "CamelCase. More info: https://git.k8s.io/community/contributors/devel/"
    "sig-architecture/api-conventions.md#types-kinds")
METADATA_DESCRIPTION = ("Standard object's metadata. More info: https://git.k8s.io/community/"
                        "contributors/devel/sig-architecture/api-conventions.md#metadata")

# keys of a structural schema that OpenAPI 3.0 does not know and kubectl does not need
_DROPPED = ("x-kubernetes-validations",)


def _clean(node):
    if isinstance(node, dict):
        return {k: _clean(v) for k, v in node.items() if k not in _DROPPED}
    if isinstance(node, list):
        return [_clean(v) for v in node]
    return node


def kind_schema(group: str, version: str, kind: str, schema: dict | None) -> dict:
    """The published schema of ``group/version, kind`` from its ``openAPIV3Schema``."""
    out = _clean(copy.deepcopy(schema)) if isinstance(schema, dict) else {}
    out.setdefault("type", "object")
    props = out.setdefault("properties", {})
    props["apiVersion"] = {"type": "string", "description": API_VERSION_DESCRIPTION}
    props["kind"] = {"type": "string", "description": KIND_DESCRIPTION}
    # the CRD may only restrict name/generateName; the published metadata is ObjectMeta
    props["metadata"] = {"allOf": [schemas.ref(schemas.OBJECT_META)],
                         "description": METADATA_DESCRIPTION}
    out["x-kubernetes-group-version-kind"] = [{"group": group, "version": version, "kind": kind}]
    return out
