"""``serviceaccounts/<name>/token`` (TokenRequest) through the real Store: defaults,
validation, bound objects, the signing key and issuer from the options."""
from __future__ import annotations

import dataclasses
import time

import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from apiserver import options as opts
from apiserver.authentication import serviceaccount_tokens as tokens
from apiserver.runtime import errors
from tests.apiserver.storage.support import ensure_revision_row
from tests.conftest import build_server

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ISSUER = "https://issuer.example"


@pytest.fixture
def signing(tmp_path, monkeypatch):
    path = tmp_path / "sa.key"
    path.write_bytes(KEY.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return opts.Options(service_account_signing_key_file=str(path),
                        service_account_issuer=ISSUER)


@pytest.fixture
def stores(db, signing):
    """A server built with these options: its ServiceAccount kind signs with their key."""
    return build_server(options=signing)[0].stores


def reissue(store, options):
    """As if the server had started with ``options``."""
    store.strategy.set_token_issuer(tokens.Issuer(
        options.service_account_signing_key_file, options.service_account_issuer,
        int(options.service_account_max_token_expiration)))


@pytest.fixture
def sas(stores, ctx):
    ensure_revision_row()
    store = stores.store("", "v1", "serviceaccounts")
    store.create("default", {"apiVersion": "v1", "kind": "ServiceAccount",
                             "metadata": {"name": "sa"}}, ctx)
    return store


def request(sas, ctx, spec=None, name="sa", **extra):
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
            "spec": spec or {}, **extra}
    return sas.strategy.subresource("token").create(ctx, sas, "default", name, body)


def test_default_token(sas, ctx):
    sa = orjson.loads(sas.get("default", "sa"))
    before = int(time.time())
    code, body = request(sas, ctx)
    assert code == 201
    assert (body["kind"], body["apiVersion"]) == ("TokenRequest", "authentication.k8s.io/v1")
    assert body["metadata"]["namespace"] == "default"
    assert body["spec"] == {"audiences": [ISSUER], "expirationSeconds": 3600,
                            "boundObjectRef": None}
    claims = tokens.verify(body["status"]["token"], KEY.public_key(), issuer=ISSUER,
                           audiences=[ISSUER])
    assert claims["sub"] == "system:serviceaccount:default:sa"
    assert claims["kubernetes.io"] == {"namespace": "default",
                                       "serviceaccount": {"name": "sa",
                                                          "uid": sa["metadata"]["uid"]}}
    assert before + 3600 <= claims["exp"] <= int(time.time()) + 3600
    assert body["status"]["expirationTimestamp"] == time.strftime(
        "%Y-%m-%dT%H:%M:%SZ", time.gmtime(claims["exp"]))


def test_audiences_and_duration_requested(sas, ctx):
    _, body = request(sas, ctx, {"audiences": ["vault"], "expirationSeconds": 600})
    claims = tokens.decode_unverified(body["status"]["token"])[1]
    assert claims["aud"] == ["vault"]
    assert claims["exp"] - claims["iat"] == 600


def test_too_short_is_invalid(sas, ctx):
    with pytest.raises(errors.Invalid) as exc:
        request(sas, ctx, {"expirationSeconds": 599})
    assert exc.value.message == (
        'TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid '
        "value: 599: may not specify a duration less than 10 minutes")
    assert exc.value.code == 422


def test_too_long_is_invalid(sas, ctx):
    with pytest.raises(errors.Invalid, match="larger than 2"):
        request(sas, ctx, {"expirationSeconds": (1 << 32) + 1})


def test_missing_service_account_is_404(sas, ctx):
    with pytest.raises(errors.NotFound) as exc:
        request(sas, ctx, name="nobody")
    assert exc.value.message == 'serviceaccounts "nobody" not found'


def test_max_expiration_caps(sas, ctx, signing, monkeypatch):
    reissue(sas, dataclasses.replace(signing, service_account_max_token_expiration=7200.0))
    _, body = request(sas, ctx, {"expirationSeconds": 86400})
    assert body["spec"]["expirationSeconds"] == 7200


def test_bound_to_a_pod_of_that_service_account(stores, sas, ctx):
    pods = stores.store("", "v1", "pods")
    pod = orjson.loads(pods.create("default", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"serviceAccountName": "sa", "containers": [{"name": "c", "image": "x"}]}}, ctx))
    ref = {"kind": "Pod", "apiVersion": "v1", "name": "p"}
    _, body = request(sas, ctx, {"boundObjectRef": ref})
    claims = tokens.decode_unverified(body["status"]["token"])[1]
    assert claims["kubernetes.io"]["pod"] == {"name": "p", "uid": pod["metadata"]["uid"]}
    with pytest.raises(errors.Conflict, match="does not match the UID"):
        request(sas, ctx, {"boundObjectRef": {**ref, "uid": "stale"}})
    with pytest.raises(errors.NotFound):
        request(sas, ctx, {"boundObjectRef": {**ref, "name": "gone"}})


def test_pod_of_another_service_account_is_refused(stores, sas, ctx):
    stores.store("", "v1", "pods").create("default", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "q"},
        "spec": {"containers": [{"name": "c", "image": "x"}]}}, ctx)
    with pytest.raises(errors.BadRequest, match="different serviceaccount name"):
        request(sas, ctx, {"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "q"}})


def test_unbindable_kind(sas, ctx):
    with pytest.raises(errors.BadRequest, match="cannot bind token to object of type"):
        request(sas, ctx, {"boundObjectRef": {"kind": "ConfigMap", "apiVersion": "v1",
                                              "name": "c"}})


def test_namespace_mismatch_and_wrong_kind(sas, ctx):
    with pytest.raises(errors.BadRequest, match="does not match the namespace"):
        request(sas, ctx, metadata={"namespace": "other"})
    with pytest.raises(errors.BadRequest, match="does not match the expected kind"):
        sas.strategy.subresource("token").create(ctx, sas, "default", "sa", {"kind": "Pod"})


def test_missing_key_file_is_an_internal_error(sas, ctx, signing, monkeypatch, tmp_path):
    reissue(sas, dataclasses.replace(
        signing, service_account_signing_key_file=str(tmp_path / "none.key")))
    with pytest.raises(errors.InternalError, match="failed to generate token"):
        request(sas, ctx)


def test_discovery_lists_the_token_subresource(server):
    doc = server.discovery.resource_list("", "v1")
    (entry,) = [r for r in doc["resources"] if r["name"] == "serviceaccounts/token"]
    assert entry == {"name": "serviceaccounts/token", "singularName": "", "namespaced": True,
                     "kind": "TokenRequest", "verbs": ["create"],
                     "group": "authentication.k8s.io", "version": "v1"}
    core = server.discovery._aggregated_group("")
    sa = [r for r in core["versions"][0]["resources"] if r["resource"] == "serviceaccounts"][0]
    assert sa["subresources"] == [{"subresource": "token", "verbs": ["create"], "responseKind": {
        "group": "authentication.k8s.io", "version": "v1", "kind": "TokenRequest"}}]


def test_options_flags():
    import argparse
    parser = argparse.ArgumentParser()
    opts.add_arguments(parser)
    o = opts.from_arguments(vars(parser.parse_args([])))
    assert (o.service_account_signing_key_file, o.service_account_issuer,
            o.service_account_max_token_expiration) == (
        "", "https://kubernetes.default.svc.cluster.local", 0.0)
    o = opts.from_arguments(vars(parser.parse_args([
        "--service-account-signing-key-file=/k", "--service-account-issuer=https://i",
        "--service-account-max-token-expiration=24h"])))
    assert (o.service_account_signing_key_file, o.service_account_issuer,
            o.service_account_max_token_expiration) == ("/k", "https://i", 86400.0)
    with pytest.raises(ValueError, match="between 1 hour"):
        opts.from_arguments(vars(parser.parse_args(
            ["--service-account-max-token-expiration=10m"])))


def test_data_dir_default_for_the_signing_key(tmp_path):
    from apiserver.management.commands.apiserver import with_data_dir_defaults
    filled = with_data_dir_defaults(opts.Options(), tmp_path)
    assert filled.service_account_signing_key_file == str(tmp_path / "pki" / "sa.key")
    assert (filled.cluster_signing_cert_file, filled.cluster_signing_key_file) == (
        str(tmp_path / "pki" / "ca.crt"), str(tmp_path / "pki" / "ca.key"))
    assert filled.client_ca_file == str(tmp_path / "pki" / "ca.crt")
    given = opts.Options(service_account_signing_key_file="/k", cluster_signing_cert_file="/c",
                         cluster_signing_key_file="/ck", client_ca_file="/ca",
                         requestheader_client_ca_file="/fp")
    assert with_data_dir_defaults(given, tmp_path) is given
    # without front-proxy flags, up's front-proxy PKI is used, as kubeadm sets it up
    assert filled.requestheader_client_ca_file == str(tmp_path / "pki" / "front-proxy-ca.crt")
    assert filled.proxy_client_cert_file == str(tmp_path / "pki" / "front-proxy-client.crt")
