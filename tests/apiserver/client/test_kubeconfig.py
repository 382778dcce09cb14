"""Kubeconfig parsing: inline data and file forms, tokens, contexts, TLS contexts."""
from __future__ import annotations

import base64
import os
import ssl
import tempfile

import pytest
import yaml

from apiserver.client.kubeconfig import ClientConfig, ConfigError, load_kubeconfig


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    from apiserver.pki import PKI
    return PKI(tmp_path_factory.mktemp("pki")).ensure()


def b64(path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def doc(cluster: dict, user: dict, *, namespace=None, extra_contexts=()) -> dict:
    ctx = {"cluster": "c", "user": "u", **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": "v1", "kind": "Config", "current-context": "main",
            "clusters": [{"name": "c", "cluster": cluster}],
            "users": [{"name": "u", "user": user}],
            "contexts": [{"name": "main", "context": ctx}, *extra_contexts]}


def write(tmp_path, d: dict, name="config"):
    p = tmp_path / name
    p.write_text(yaml.safe_dump(d))
    return p


def test_inline_data(tmp_path, pki):
    path = write(tmp_path, doc(
        {"server": "https://127.0.0.1:6443/", "certificate-authority-data": b64(pki.ca_cert)},
        {"client-certificate-data": b64(pki.admin_cert), "client-key-data": b64(pki.admin_key)},
        namespace="team"))
    cfg = load_kubeconfig(path)
    assert cfg.server == "https://127.0.0.1:6443"
    assert cfg.ca_data == pki.ca_cert.read_bytes()
    assert cfg.cert_data == pki.admin_cert.read_bytes()
    assert cfg.key_data == pki.admin_key.read_bytes()
    assert cfg.namespace == "team" and cfg.token is None and cfg.auth_headers() == {}
    assert cfg.server_hostname == "127.0.0.1"


def test_inline_key_material_goes_to_private_temp_files_that_are_removed(tmp_path, pki,
                                                                         monkeypatch):
    created = []
    real = tempfile.mkstemp

    def spy(*a, **kw):
        fd, name = real(*a, **kw)
        created.append((name, os.stat(name).st_mode & 0o777))
        return fd, name
    monkeypatch.setattr(tempfile, "mkstemp", spy)
    cfg = ClientConfig.from_dict(doc(
        {"server": "https://127.0.0.1:6443", "certificate-authority-data": b64(pki.ca_cert)},
        {"client-certificate-data": b64(pki.admin_cert), "client-key-data": b64(pki.admin_key)}))
    ctx = cfg.ssl_context()
    assert isinstance(ctx, ssl.SSLContext)
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert ctx.get_ca_certs(), "the CA from certificate-authority-data is loaded"
    assert len(created) == 2 and all(mode == 0o600 for _, mode in created)
    assert not any(os.path.exists(name) for name, _ in created)
    assert cfg.ssl_context() is ctx            # built once
    cfg.close()


def test_file_paths_are_relative_to_the_kubeconfig(tmp_path, pki):
    sub = tmp_path / "conf"
    sub.mkdir()
    for src, name in ((pki.ca_cert, "ca.crt"), (pki.admin_cert, "a.crt"), (pki.admin_key, "a.key")):
        (sub / name).write_bytes(src.read_bytes())
    path = write(sub, doc({"server": "https://localhost:1", "certificate-authority": "ca.crt"},
                          {"client-certificate": "a.crt", "client-key": str(sub / "a.key")}))
    cfg = load_kubeconfig(path)
    assert cfg.ca_file == str(sub / "ca.crt")
    assert cfg.cert_file == str(sub / "a.crt") and cfg.key_file == str(sub / "a.key")
    assert cfg.ssl_context().get_ca_certs()


def test_token_and_token_file(tmp_path):
    cfg = ClientConfig.from_dict(doc({"server": "https://h:1"}, {"token": "abc"}))
    assert cfg.auth_headers() == {"Authorization": "Bearer abc"}

    (tmp_path / "tok").write_text("from-file\n")
    cfg = load_kubeconfig(write(tmp_path, doc({"server": "https://h:1"}, {"tokenFile": "tok"})))
    assert cfg.auth_headers() == {"Authorization": "Bearer from-file"}
    (tmp_path / "tok").write_text("rotated")
    assert cfg.bearer_token() == "from-file"         # cached for a while ...
    cfg._token_cache = (cfg._token_cache[0], -1e9)   # ... then re-read
    assert cfg.bearer_token() == "rotated"


def test_insecure_skip_tls_verify_and_plain_http():
    cfg = ClientConfig.from_dict(doc({"server": "https://h:1", "insecure-skip-tls-verify": True,
                                      "tls-server-name": "kubernetes"}, {}))
    ctx = cfg.ssl_context()
    assert ctx.verify_mode == ssl.CERT_NONE and not ctx.check_hostname
    assert cfg.server_hostname == "kubernetes"
    assert ClientConfig.from_dict(doc({"server": "http://h:8080"}, {})).ssl_context() is None


def test_context_selection_and_kubeconfig_env(tmp_path, monkeypatch):
    d = doc({"server": "https://one:1"}, {"token": "t"})
    d["clusters"].append({"name": "c2", "cluster": {"server": "https://two:2"}})
    d["contexts"].append({"name": "other", "context": {"cluster": "c2", "user": "u"}})
    path = write(tmp_path, d)
    monkeypatch.setenv("KUBECONFIG", f"{path}{os.pathsep}/nonexistent")
    assert load_kubeconfig().server == "https://one:1"
    other = load_kubeconfig(context="other")
    assert other.server == "https://two:2" and other.namespace == "default"


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update({"current-context": "missing"}), "context 'missing' not found"),
    (lambda d: d["clusters"][0]["cluster"].pop("server"), "has no server"),
    (lambda d: d["users"][0]["user"].update({"exec": {"command": "x"}}), "not supported"),
    (lambda d: d.pop("current-context"), "current-context"),
])
def test_bad_kubeconfigs(mutate, message):
    d = doc({"server": "https://h:1"}, {})
    mutate(d)
    with pytest.raises(ConfigError, match=message):
        ClientConfig.from_dict(d)


def test_unreadable_client_certificate(tmp_path):
    cfg = ClientConfig.from_dict(doc({"server": "https://h:1"}, {
        "client-certificate-data": base64.b64encode(b"not a cert").decode(),
        "client-key-data": base64.b64encode(b"not a key").decode()}))
    with pytest.raises(ConfigError, match="client certificate"):
        cfg.ssl_context()
    assert not cfg._temp_files
