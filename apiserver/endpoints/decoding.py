"""Request bodies: which media types a write accepts, and whether the object in the body is
the kind the URL names.

Upstream decodes a body with the serializer its Content-Type names (an unknown type is 415,
kubernetes/apiserver:pkg/endpoints/handlers/negotiation/negotiate.go
``NegotiateInputSerializer``) into the endpoint's type; a body of another group, version or
kind fails there and becomes 400 through ``transformDecodeError`` or the create/update
handlers' "does not match the expected API version" check
(kubernetes/apiserver:pkg/endpoints/handlers/create.go, update.go, rest.go).  Nothing is
stored in either case.
"""
from __future__ import annotations

from apiserver.runtime import errors
from apiserver.runtime.protobuf import decode_body
from apiserver.runtime.serialization import loads_any

PROTOBUF = "application/vnd.kubernetes.protobuf"
JSON, YAML = "application/json", "application/yaml"
ACCEPTED = (JSON, YAML, PROTOBUF)
_YAML_ALIASES = ("application/yaml", "application/x-yaml", "text/yaml")
# where a kind's Go type lives in the scheme named in "not registered" errors
_LEGACY_SCHEME = "pkg/api/legacyscheme/scheme.go:30"


def media_type(content_type: str) -> str:
    return (content_type or JSON).split(";")[0].strip().lower() or JSON


def decode_request(request, expected):
    """The request body as JSON-shaped data: JSON, YAML or the Kubernetes protobuf envelope
    (kubectl 1.32's typed clients send protobuf; the answer stays JSON, which they accept).
    Any other Content-Type is 415."""
    media = media_type(request.META.get("CONTENT_TYPE", ""))
    if media == PROTOBUF:
        return decode_body(request.body, expected=expected)
    if media == JSON or media in _YAML_ALIASES:
        return loads_any(request.body, media)
    raise errors.UnsupportedMediaType(
        "the body of the request was in an unknown format - accepted media types include: "
        + ", ".join(ACCEPTED))


def _split(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


def _internal_package(group: str) -> str:
    """The Go package of a group's internal types (``core``, ``apps``, ``networking`` …)."""
    return "core" if not group else group.split(".")[0]


def check_kind(obj: dict, expected: tuple, index) -> None:
    """400 unless the body's apiVersion/kind (each defaulting to the endpoint's) is
    ``expected`` (group, version, kind).  ``index`` is the serving Scheme: a kind it knows
    in another version is "does not match the expected API version", one it knows under
    another kind fails conversion, and one it does not know is "not registered"."""
    group, version, kind = expected
    api_version, data_kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, (str, type(None))) or not isinstance(data_kind, (str, type(None))):
        raise errors.BadRequest(f'{kind} in version "{version}" cannot be handled as a {kind}: '
                                "apiVersion and kind must be strings")
    got_group, got_version = _split(api_version) if api_version else (group, version)
    got_kind = data_kind or kind
    if (got_group, got_version, got_kind) == expected:
        return
    got_gv = f"{got_group}/{got_version}" if got_group else got_version
    want_gv = f"{group}/{version}" if group else version
    if got_kind == kind and got_group == group and index.strategy_for_kind(got_group, got_version, got_kind):
        raise errors.BadRequest(f"the API version in the data ({got_gv}) does not match the "
                                f"expected API version ({want_gv})")
    if index.strategy_for_kind(got_group, got_version, got_kind) is not None:
        cause = (f"converting ({got_version}.{got_kind}) to ({_internal_package(group)}.{kind}): "
                 "unknown conversion")
    else:
        cause = (f'no kind "{got_kind}" is registered for version "{got_gv}" in scheme '
                 f'"{_LEGACY_SCHEME}"')
    raise errors.BadRequest(f'{got_kind} in version "{got_version}" cannot be handled as a '
                            f"{kind}: {cause}")
