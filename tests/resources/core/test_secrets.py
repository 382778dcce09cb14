"""Secret strategy hooks: stringData folding, base64, per-type keys, immutability, table."""
from __future__ import annotations

import base64
import copy

from resources.core.secrets import SecretStrategy
from apiserver.registry.context import RequestContext

S = SecretStrategy()


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def secret(**fields) -> dict:
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "namespace": "default", "creationTimestamp": "2024-01-01T00:00:00Z"},
            **fields}


def texts(errs):
    return [e.error_text() for e in errs]


def test_type_defaults_to_opaque():
    s = secret()
    S.default(s)
    assert s["type"] == "Opaque"


def test_string_data_is_merged_into_data_and_dropped():
    s = secret(data={"user": b64("old"), "keep": b64("k")}, stringData={"user": "admin", "pw": "é"})
    S.default(s)
    assert "stringData" not in s
    assert s["data"] == {"user": b64("admin"), "keep": b64("k"), "pw": b64("é")}
    assert S.validate(RequestContext(), s) == []
    again = copy.deepcopy(s)
    S.default(again)
    assert again == s


def test_illegal_base64_is_invalid():
    s = secret(data={"x": "not base64!"})
    S.default(s)
    assert texts(S.validate(RequestContext(), s)) == [
        'data[x]: Invalid value: "<secret contents redacted>": illegal base64 data']


def test_bad_key_and_size():
    s = secret(data={"bad key": b64("v"), "big": b64("x" * (1024 * 1024))})
    S.default(s)
    got = texts(S.validate(RequestContext(), s))
    assert got[0].startswith('data[bad key]: Invalid value: "bad key": a valid config key must consist of')
    assert got[-1] == "data: Too long: must have at most 1048576 bytes"


def test_typed_secret_required_keys():
    tls = secret(type="kubernetes.io/tls", data={"tls.crt": b64("c")})
    assert texts(S.validate(RequestContext(), tls)) == ["data[tls.key]: Required value"]
    basic = secret(type="kubernetes.io/basic-auth", data={})
    assert texts(S.validate(RequestContext(), basic)) == ["data[username]: Required value", "data[password]: Required value"]
    sa = secret(type="kubernetes.io/service-account-token")
    assert texts(S.validate(RequestContext(), sa)) == [
        "metadata.annotations[kubernetes.io/service-account.name]: Required value"]
    docker = secret(type="kubernetes.io/dockerconfigjson", data={".dockerconfigjson": b64("{")})
    assert texts(S.validate(RequestContext(), docker))[0].startswith('data[.dockerconfigjson]: Invalid value:')


def test_type_is_immutable():
    old = secret(type="Opaque")
    new = secret(type="kubernetes.io/tls", data={"tls.crt": b64("c"), "tls.key": b64("k")})
    assert texts(S.validate_update(RequestContext(), new, old)) == ['type: Invalid value: "kubernetes.io/tls": field is immutable']


def test_immutable_secret_freezes_data_and_flag():
    old = secret(type="Opaque", immutable=True, data={"a": b64("1")})
    same = copy.deepcopy(old)
    same["metadata"]["labels"] = {"x": "y"}
    assert S.validate_update(RequestContext(), same, old) == []
    changed = secret(type="Opaque", data={"a": b64("2")})
    assert texts(S.validate_update(RequestContext(), changed, old)) == [
        "immutable: Forbidden: field is immutable when `immutable` is set",
        "data: Forbidden: field is immutable when `immutable` is set"]


def test_table_and_field_selector():
    s = secret(stringData={"a": "1", "b": "2"})
    S.default(s)
    assert S.table_row(s)[:3] == ["s", "Opaque", 2]
    assert [c.name for c in S.columns] == ["Name", "Type", "Data", "Age"]
    assert S.selectable_fields["type"](s) == "Opaque"
