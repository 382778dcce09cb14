"""``--authentication-config``: reading an apiserver.config.k8s.io AuthenticationConfiguration
(YAML or JSON; kubernetes/kubernetes:pkg/kubeapiserver/options/authentication.go
``loadAuthenticationConfig``, which decodes strictly), the same shape made from the
``--oidc-*`` flags (``ToAuthenticationConfig``), and the ``anonymous`` section.

The document is decoded as upstream's strict codec does: an unknown or repeated field, or a
value of the wrong JSON type, is an error naming its path.  The result is the configuration
as plain data with every field present (Go's zero values for absent ones; ``None`` for
absent pointer fields: ``discoveryURL``, ``prefix``, ``anonymous``).  Its meaning is checked
by :mod:`apiserver.authentication.authn_config_validation`.

The types are kubernetes/apiserver:pkg/apis/apiserver/v1beta1/types.go
(``AuthenticationConfiguration{jwt, anonymous}``, ``JWTAuthenticator``, ``Issuer``,
``ClaimValidationRule``, ``ClaimMappings``, ``ExtraMapping``, ``UserValidationRule``,
``AnonymousAuthConfig``).

May import: apiserver.authentication, apiserver.runtime, PyYAML.
"""
from __future__ import annotations

import yaml

from apiserver.authentication.authn_config_validation import aggregate, validate_anonymous
from apiserver.runtime.errors import forbidden

GROUP = "apiserver.config.k8s.io"
VERSIONS = ("v1alpha1", "v1beta1", "v1")
KIND = "AuthenticationConfiguration"

_PREFIXED = ("PrefixedClaimOrExpression", {"claim": "string", "prefix": "*string",
                                           "expression": "string"})
SCHEMA = ("AuthenticationConfiguration", {
    "apiVersion": "string", "kind": "string",
    "jwt": [("JWTAuthenticator", {
        "issuer": ("Issuer", {"url": "string", "discoveryURL": "*string",
                              "certificateAuthority": "string", "audiences": ["string"],
                              "audienceMatchPolicy": "string"}),
        "claimValidationRules": [("ClaimValidationRule", {
            "claim": "string", "requiredValue": "string", "expression": "string",
            "message": "string"})],
        "claimMappings": ("ClaimMappings", {
            "username": _PREFIXED, "groups": _PREFIXED,
            "uid": ("ClaimOrExpression", {"claim": "string", "expression": "string"}),
            "extra": [("ExtraMapping", {"key": "string", "valueExpression": "string"})]}),
        "userValidationRules": [("UserValidationRule", {"expression": "string",
                                                        "message": "string"})]})],
    "anonymous": ("*", ("AnonymousAuthConfig", {
        "enabled": "bool", "conditions": [("AnonymousAuthCondition", {"path": "string"})]})),
})


class _StrictLoader(yaml.SafeLoader):
    """YAML (and so JSON) with repeated keys refused, as the strict codec does."""


def _mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise ValueError(f"strict decoding error: yaml: unmarshal errors:\n  line "
                             f"{key_node.start_mark.line + 1}: key {_q(key)} already set in map")
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def _q(value) -> str:
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _json_kind(value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return {dict: "object", list: "array", str: "string"}.get(type(value), "string")


def _go_type(spec, version: str) -> str:
    if isinstance(spec, list):
        return "[]" + _go_type(spec[0], version)
    if isinstance(spec, tuple):
        return _go_type(spec[1], version) if spec[0] == "*" else f"{version}.{spec[0]}"
    return spec.lstrip("*")


class _Decoder:
    """Decodes one document against :data:`SCHEMA`, collecting unknown-field errors."""

    def __init__(self, version: str):
        self.version = version
        self.unknown: list[str] = []

    def value(self, spec, data, path: str, struct: str, dotted: str):
        if isinstance(spec, tuple) and spec[0] == "*":
            return None if data is None else self.value(spec[1], data, path, struct, dotted)
        if data is None:
            return self.zero(spec)
        if isinstance(spec, list):
            if not isinstance(data, list):
                raise self.type_error(data, spec, struct, dotted)
            return [self.value(spec[0], item, f"{path}[{i}]", struct, dotted)
                    for i, item in enumerate(data)]
        if isinstance(spec, tuple):
            if not isinstance(data, dict):
                raise self.type_error(data, spec, struct, dotted)
            return self.struct(spec, data, path, dotted)
        expected = bool if spec == "bool" else str
        if not isinstance(data, expected) or (expected is str and isinstance(data, bool)):
            raise self.type_error(data, spec, struct, dotted)
        return data

    def struct(self, spec, data: dict, path: str, dotted: str) -> dict:
        name, fields = spec
        out = {}
        for key, value in data.items():
            if key not in fields:
                self.unknown.append(f"{path}.{key}" if path else str(key))
                continue
            out[key] = self.value(fields[key], value, f"{path}.{key}" if path else key, name,
                                  f"{dotted}.{key}" if dotted else key)
        for key, field_spec in fields.items():
            out.setdefault(key, self.zero(field_spec))
        return out

    def zero(self, spec):
        if isinstance(spec, list):
            return []
        if isinstance(spec, tuple):
            return None if spec[0] == "*" else self.struct(spec, {}, "", "")
        return {"bool": False, "string": ""}.get(spec)

    def type_error(self, data, spec, struct: str, dotted: str) -> ValueError:
        return ValueError(f"json: cannot unmarshal {_json_kind(data)} into Go struct field "
                          f"{struct}.{dotted} of type {_go_type(spec, self.version)}")


def decode(text: str) -> dict:
    """The AuthenticationConfiguration in ``text``, all fields present; ValueError with
    upstream's decoding message otherwise."""
    if not text.strip():
        raise ValueError("empty config data")
    try:
        doc = yaml.load(text, Loader=_StrictLoader)   # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        raise ValueError(f"yaml: {str(exc).splitlines()[0]}") from None
    if not isinstance(doc, dict):
        raise ValueError(f"couldn't get version/kind; json parse error: json: cannot unmarshal "
                         f"{_json_kind(doc)} into Go value of type struct {{ APIVersion string; "
                         f"Kind string }}")
    api_version, kind = doc.get("apiVersion") or "", doc.get("kind") or ""
    if not kind:
        raise ValueError("Object 'Kind' is missing in the configuration")
    group, _, version = str(api_version).rpartition("/")
    if group != GROUP or version not in VERSIONS or kind != KIND:
        raise ValueError(f"no kind {_q(kind)} is registered for version {_q(api_version)}")
    decoder = _Decoder(version)
    config = decoder.struct(SCHEMA, doc, "", "")
    if decoder.unknown:
        raise ValueError("strict decoding error: " + ", ".join(
            f"unknown field {_q(p)}" for p in decoder.unknown))
    return config


def load(path: str) -> dict:
    """The file's configuration; ValueError as upstream's start-up error."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        return decode(text)
    except OSError as exc:
        raise ValueError(f"failed to load authentication configuration from file {_q(path)}: "
                         f"{_open_error(path, exc)}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"failed to load authentication configuration from file {_q(path)}: "
                         f"{exc}") from None


def _open_error(path: str, exc: OSError) -> str:
    """Go's ``open PATH: reason`` (lower-case, as syscall errors read)."""
    reason = exc.strerror or str(exc)
    return f"open {path}: {reason[:1].lower()}{reason[1:]}"


def from_flags(options) -> dict | None:
    """The configuration the ``--oidc-*`` flags describe (one ``jwt`` entry), or None when
    ``--oidc-issuer-url``/``--oidc-client-id`` are not set — upstream's legacy prefix rule
    included: with no ``--oidc-username-prefix``, a username claim other than ``email``
    gets ``<issuer-url>#``; ``-`` means no prefix."""
    o = options
    if not (o.oidc_issuer_url and o.oidc_client_id):
        return None
    claim = o.oidc_username_claim or "sub"
    prefix = o.oidc_username_prefix
    if prefix == "" and claim != "email":
        prefix = o.oidc_issuer_url + "#"     # kubernetes/kubernetes#31380
    if prefix == "-":
        prefix = ""
    ca = ""
    if o.oidc_ca_file:
        try:
            with open(o.oidc_ca_file, encoding="utf-8") as fh:
                ca = fh.read()
        except OSError as exc:
            raise ValueError(_open_error(o.oidc_ca_file, exc)) from None
        except UnicodeDecodeError as exc:
            raise ValueError(f"{o.oidc_ca_file}: {exc}") from None
    config = decode_defaults()
    mappings = {"username": {"claim": claim, "prefix": prefix, "expression": ""},
                "groups": {"claim": "", "prefix": None, "expression": ""},
                "uid": {"claim": "", "expression": ""}, "extra": []}
    if o.oidc_groups_claim:
        mappings["groups"] = {"claim": o.oidc_groups_claim, "prefix": o.oidc_groups_prefix,
                              "expression": ""}
    config["jwt"] = [{
        "issuer": {"url": o.oidc_issuer_url, "discoveryURL": None, "certificateAuthority": ca,
                   "audiences": [o.oidc_client_id], "audienceMatchPolicy": ""},
        "claimValidationRules": [{"claim": k, "requiredValue": v, "expression": "",
                                  "message": ""}
                                 for k, v in dict(o.oidc_required_claims).items()],
        "claimMappings": mappings, "userValidationRules": []}]
    return config


def decode_defaults() -> dict:
    """An empty configuration (no issuers, no anonymous section)."""
    return _Decoder("v1beta1").struct(SCHEMA, {}, "", "")


def anonymous_paths(options) -> tuple | None:
    """The ``anonymous`` section of ``--authentication-config``: None when there is no file
    or no section (``--anonymous-auth`` decides), ``()`` when it disables anonymous
    requests, else the paths of its conditions (None again for none: anonymous on every
    path).  ValueError for a section upstream refuses: conditions while disabled, or the
    section together with ``--anonymous-auth=false`` (the flags and the section are
    mutually exclusive upstream; a flag left at its default cannot be told apart)."""
    if not options.authentication_config:
        return None
    section = load(options.authentication_config)["anonymous"]
    if section is None:
        return None
    if not options.anonymous_auth:
        raise ValueError(forbidden("anonymous", "--anonymous-auth flag cannot be set when "
                                   "anonymous field is configured in authentication "
                                   "configuration file").error_text())
    errors = validate_anonymous(section)
    if errors:
        raise ValueError(f"invalid authentication configuration: {aggregate(errors)}")
    if not section["enabled"]:
        return ()
    return tuple(c["path"] for c in section["conditions"]) or None
