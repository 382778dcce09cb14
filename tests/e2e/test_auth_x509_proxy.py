"""Client certificates, the authenticating front proxy, anonymous requests and impersonation
against a real server over TLS (kubectl and raw HTTPS)."""
from __future__ import annotations

import datetime
import http.client
import json
import ssl

import pytest

from tests.certs import CA
from watch_support import ServerGroup

WHOAMI = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
REVIEW = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}




@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("authn")
    proxy_ca = CA("front-proxy-ca")
    group = ServerGroup()
    try:
        srv = group.start(
            "--requestheader-client-ca-file", str(proxy_ca.write(d / "proxy-ca.crt")),
            "--requestheader-allowed-names", "front-proxy",
            "--requestheader-username-headers", "X-Remote-User",
            "--requestheader-group-headers", "X-Remote-Group",
            "--requestheader-extra-headers-prefix", "X-Remote-Extra-")
        yield srv, proxy_ca, d
    finally:
        group.stop()


def call(srv, cert=None, headers=None, path=WHOAMI):
    """POST a SelfSubjectReview (or GET ``path``) presenting ``cert`` (a (crt, key) pair)."""
    ctx = ssl.create_default_context(cafile=str(srv.ca))
    if cert:
        ctx.load_cert_chain(str(cert[0]), str(cert[1]))
    conn = http.client.HTTPSConnection(srv.host, srv.port, context=ctx, timeout=20)
    try:
        hdrs = {"Accept": "application/json", "Content-Type": "application/json"}
        hdrs.update(headers or {})
        if path == WHOAMI:
            conn.request("POST", path, body=json.dumps(REVIEW), headers=hdrs)
        else:
            conn.request("GET", path, headers=hdrs)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"null")
    finally:
        conn.close()


def user_of(body):
    return body["status"]["userInfo"]


def test_front_proxy_user_groups_and_extra(env):
    srv, proxy_ca, d = env
    cert = proxy_ca.write_pair(d, "front-proxy", "front-proxy")
    status, body = call(srv, cert, {"X-Remote-User": "jane", "X-Remote-Group": "dev",
                                    "X-Remote-Extra-Acme.com%2Fteam": "blue"})
    assert status == 201, body
    assert user_of(body) == {"username": "jane", "groups": ["dev", "system:authenticated"],
                             "extra": {"acme.com/team": ["blue"]}}


def test_front_proxy_certificate_with_a_name_not_allowed_is_401(env):
    srv, proxy_ca, d = env
    cert = proxy_ca.write_pair(d, "intruder", "intruder")
    status, body = call(srv, cert, {"X-Remote-User": "jane"})
    assert status == 401 and body["reason"] == "Unauthorized"


def test_spoofed_proxy_headers_without_the_proxy_certificate_are_ignored(env):
    srv, _, _ = env
    spoof = {"X-Remote-User": "system:admin", "X-Remote-Group": "system:masters"}
    status, body = call(srv, (srv.admin_cert, srv.admin_key), spoof)
    assert status == 201 and user_of(body)["username"] == "kubernetes-admin"
    # with no certificate at all: anonymous, which RBAC does not let create reviews
    status, body = call(srv, None, spoof)
    assert status == 403 and body["reason"] == "Forbidden"
    assert body["message"].startswith('selfsubjectreviews.authentication.k8s.io is forbidden: '
                                      'User "system:anonymous" cannot create resource')


def test_client_certificate_of_the_server_ca(env):
    srv, _, d = env
    cert = CA.from_pki(srv.data_dir / "pki").write_pair(d, "alice", "alice", ("devs", "qa"))
    status, body = call(srv, cert)
    assert status == 201
    assert user_of(body) == {"username": "alice",
                             "groups": ["devs", "qa", "system:authenticated"]}


def rejected(srv, cert) -> bool:
    """The server refuses the connection or answers 401."""
    try:
        status, _ = call(srv, cert)
    except (ssl.SSLError, ConnectionError, OSError):
        return True
    return status == 401


def test_foreign_expired_and_future_certificates_are_rejected(env):
    srv, _, d = env
    now = datetime.datetime.now(datetime.timezone.utc)
    own = CA.from_pki(srv.data_dir / "pki")
    foreign = CA("foreign").write_pair(d, "foreign", "mallory", ("system:masters",))
    expired = own.write_pair(d, "expired", "old", ("system:masters",),
                             not_before=now - datetime.timedelta(days=2),
                             not_after=now - datetime.timedelta(days=1))
    future = own.write_pair(d, "future", "new", ("system:masters",),
                            not_before=now + datetime.timedelta(days=1),
                            not_after=now + datetime.timedelta(days=2))
    for cert in (foreign, expired, future):
        assert rejected(srv, cert), cert


def test_health_is_open_to_anonymous_under_always_allow(env):
    srv, _, _ = env
    status, _, data = srv.request("GET", "/readyz", client_cert=False)
    assert status == 200 and data == b"ok"


def test_kubectl_as_another_user(env):
    srv, _, _ = env
    out = json.loads(srv.kubectl("--as", "jane", "--as-group", "dev", "auth", "whoami",
                                 "-o", "json").stdout)
    assert out["status"]["userInfo"] == {"username": "jane",
                                         "groups": ["dev", "system:authenticated"]}
    out = json.loads(srv.kubectl("--as", "system:serviceaccount:ci:builder", "auth", "whoami",
                                 "-o", "json").stdout)
    assert out["status"]["userInfo"]["groups"] == [
        "system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated"]
    table = srv.kubectl("--as", "jane", "auth", "whoami").stdout
    assert table.split() == ["ATTRIBUTE", "VALUE", "Username", "jane", "Groups",
                             "[system:authenticated]"]


def test_impersonating_groups_without_a_user_is_400(env):
    srv, _, _ = env
    status, body = call(srv, (srv.admin_cert, srv.admin_key),
                        {"Impersonate-Group": "system:masters"})
    assert status == 400 and body["reason"] == "BadRequest"
    assert "without impersonating a user" in body["message"]
