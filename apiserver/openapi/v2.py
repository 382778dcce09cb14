"""/openapi/v2: the Swagger 2.0 definitions of the built-in kinds, as JSON or protobuf.

kubectl still reads this document: its client-side validation (``--validate=strict``, the
default) checks a ``v1 List`` against it, because no server-side field validation exists
for that pseudo-kind (kubernetes/kubectl:pkg/cmd/util/factory_client_access.go Validator,
k8s.io/client-go/openapi3 QueryParamVerifierV3 treating v1 List as unsupported).  Without
it ``kubectl apply -f`` of ``kubectl get -o yaml`` output fails.  client-go asks for
protobuf only (k8s.io/client-go/discovery OpenAPISchema), the gnostic ``openapi.v2.Document``
message (google/gnostic openapiv2/OpenAPIv2.proto), encoded here by hand.

The definitions are this server's OpenAPI v3 component schemas of the built-in kinds
(``config.scheme``: custom resources and aggregated APIs are left out, so clients skip
validating them client-side and the server's own field validation decides), turned into
Swagger 2.0 as kube-openapi publishes them: ``#/definitions/`` references, a field's
``allOf: [{$ref}]`` as a plain ``$ref``, ``oneOf`` alternatives (IntOrString, Quantity) as
``type: string``.  Paths are not published (kubectl reads only the definitions; the v3
documents carry every operation).

May import: apiserver.openapi.documents, the standard library, orjson.
"""
from __future__ import annotations

import hashlib
import struct

import orjson

from .documents import INFO, group_version_document, group_versions

SWAGGER = "2.0"
# what client-go asks for, and the Content-Type kube-openapi answers with (Go's mime parser
# refuses the "@" of the request form)
PROTOBUF_ACCEPT = "application/com.github.proto-openapi.spec.v2"
PROTOBUF = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
V3_REF = "#/components/schemas/"
V2_REF = "#/definitions/"


# ---- v3 -> Swagger 2.0 ---------------------------------------------------------------------

def to_v2(schema):
    """One v3 schema (a dict; nested ones are converted too) in Swagger 2.0 form."""
    if isinstance(schema, list):
        return [to_v2(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    all_of = schema.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], dict) \
            and "$ref" in all_of[0]:
        out["$ref"] = all_of[0]["$ref"].replace(V3_REF, V2_REF)
        if "description" in schema:
            out["description"] = schema["description"]
        return out
    for key, value in schema.items():
        if key == "$ref":
            out[key] = value.replace(V3_REF, V2_REF)
        elif key in ("oneOf", "anyOf", "nullable", "not"):
            continue
        elif key == "properties" and isinstance(value, dict):
            out[key] = {name: to_v2(s) for name, s in value.items()}
        elif key in ("items", "additionalProperties", "allOf"):
            out[key] = to_v2(value)
        else:
            out[key] = value
    if "type" not in out and "$ref" not in out and isinstance(schema.get("oneOf"), list):
        types = {alt.get("type") for alt in schema["oneOf"] if isinstance(alt, dict)}
        if "string" in types:
            out["type"] = "string"
    return out


def swagger_document(scheme, version: str) -> dict:
    """The Swagger 2.0 document of ``scheme``'s kinds (``version``: the server's)."""
    definitions: dict = {}
    for group, gv in group_versions(scheme):
        doc = orjson.loads(group_version_document(scheme, group, gv))
        for name, schema in ((doc.get("components") or {}).get("schemas") or {}).items():
            definitions.setdefault(name, to_v2(schema))
    return {"swagger": SWAGGER, "info": {"title": INFO.get("title", "Kubernetes"),
                                         "version": version},
            "paths": {}, "definitions": dict(sorted(definitions.items()))}


# ---- protobuf (gnostic openapi.v2) -------------------------------------------------------

def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(field: int, wire: int) -> bytes:
    return _varint(field << 3 | wire)


def _bytes(field: int, data: bytes) -> bytes:
    return _key(field, 2) + _varint(len(data)) + data


def _str(field: int, text: str) -> bytes:
    return _bytes(field, text.encode()) if text else b""


def _int(field: int, n) -> bytes:
    return _key(field, 0) + _varint(int(n))


def _double(field: int, x) -> bytes:
    return _key(field, 1) + struct.pack("<d", float(x))


def _any(value) -> bytes:
    """gnostic ``Any``: the value as YAML text (JSON is YAML), field 2."""
    return _str(2, orjson.dumps(value).decode()) or _bytes(2, b"")


def _named_any(name: str, value) -> bytes:
    return _str(1, name) + _bytes(2, _any(value))


def encode_schema(s: dict) -> bytes:
    """One gnostic ``Schema`` message."""
    out = bytearray()
    out += _str(1, s.get("$ref", ""))
    out += _str(2, s.get("format", "") if isinstance(s.get("format"), str) else "")
    out += _str(3, s.get("title", "") if isinstance(s.get("title"), str) else "")
    out += _str(4, s.get("description", "") if isinstance(s.get("description"), str) else "")
    if "default" in s:
        out += _bytes(5, _any(s["default"]))
    for field, key in ((6, "multipleOf"), (7, "maximum"), (9, "minimum")):
        if isinstance(s.get(key), (int, float)) and not isinstance(s.get(key), bool):
            out += _double(field, s[key])
    for field, key in ((8, "exclusiveMaximum"), (10, "exclusiveMinimum"), (16, "uniqueItems"),
                       (27, "readOnly")):
        if s.get(key) is True:
            out += _int(field, 1)
    for field, key in ((11, "maxLength"), (12, "minLength"), (14, "maxItems"),
                       (15, "minItems"), (17, "maxProperties"), (18, "minProperties")):
        if isinstance(s.get(key), int) and not isinstance(s.get(key), bool):
            out += _int(field, s[key])
    out += _str(13, s.get("pattern", "") if isinstance(s.get("pattern"), str) else "")
    for name in s.get("required") or ():
        out += _str(19, name)
    for value in s.get("enum") or ():
        out += _bytes(20, _any(value))
    extra = s.get("additionalProperties")
    if isinstance(extra, dict):
        out += _bytes(21, _bytes(1, encode_schema(extra)))
    elif isinstance(extra, bool):
        out += _bytes(21, _int(2, extra))
    types = s.get("type")
    if types:
        out += _bytes(22, b"".join(_str(1, t) for t in
                                   (types if isinstance(types, list) else [types])))
    items = s.get("items")
    if isinstance(items, dict):
        out += _bytes(23, _bytes(1, encode_schema(items)))
    for sub in s.get("allOf") or ():
        if isinstance(sub, dict):
            out += _bytes(24, encode_schema(sub))
    props = s.get("properties")
    if isinstance(props, dict):
        out += _bytes(25, b"".join(
            _bytes(1, _str(1, name) + _bytes(2, encode_schema(sub)))
            for name, sub in props.items() if isinstance(sub, dict)))
    for key, value in s.items():
        if key.startswith("x-"):
            out += _bytes(31, _named_any(key, value))
    return bytes(out)


def encode_document(doc: dict) -> bytes:
    """The gnostic ``Document``: swagger, info, (empty) paths, definitions."""
    info = doc.get("info") or {}
    out = bytearray(_str(1, doc.get("swagger", SWAGGER)))
    out += _bytes(2, _str(1, info.get("title", "")) + _str(2, info.get("version", "")))
    out += _bytes(8, b"")
    out += _bytes(9, b"".join(_bytes(1, _str(1, name) + _bytes(2, encode_schema(schema)))
                              for name, schema in (doc.get("definitions") or {}).items()))
    return bytes(out)


class SwaggerDocument:
    """Built once on first use (the built-in kinds are fixed after start); ``json``,
    ``protobuf`` and their ``etag`` (a hash of the JSON form)."""

    def __init__(self, scheme, version: str):
        doc = swagger_document(scheme, version)
        self.json = orjson.dumps(doc)
        self.protobuf = encode_document(doc)
        self.etag = '"' + hashlib.sha512(self.json).hexdigest().upper() + '"'
