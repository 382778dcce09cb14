"""Client certificates and the front proxy: which CA issued the connection's certificate
decides which authenticator may use it (kubernetes/apiserver:pkg/authentication/request/x509,
request/headerrequest)."""
from __future__ import annotations

import datetime

import pytest

from apiserver.authentication.base import AuthenticationError, Union
from apiserver.authentication.requestheader import RequestHeaderAuthenticator
from apiserver.authentication.x509 import (CLIENT_CA, REQUESTHEADER_CA, CertificatePools,
                                           X509Authenticator)
from tests.certs import CA, der


@pytest.fixture(scope="module")
def cas(tmp_path_factory):
    d = tmp_path_factory.mktemp("cas")
    client, proxy, foreign = CA("client-ca"), CA("front-proxy-ca"), CA("foreign")
    pools = CertificatePools({CLIENT_CA: str(client.write(d / "client.crt")),
                              REQUESTHEADER_CA: str(proxy.write(d / "proxy.crt"))})
    return client, proxy, foreign, pools


def scope_for(pools, cert, headers=()):
    return {"type": "http", "path": "/api",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers],
            "extensions": {"tls": pools.inspect(der(cert))}}


def test_pools_tell_which_ca_issued_a_certificate(cas):
    client, proxy, foreign, pools = cas
    assert pools.inspect(der(client.issue("a")[0]))["k8s.verified_by"] == {CLIENT_CA}
    assert pools.inspect(der(proxy.issue("a")[0]))["k8s.verified_by"] == {REQUESTHEADER_CA}
    assert pools.inspect(der(foreign.issue("a")[0]))["k8s.verified_by"] == frozenset()
    assert pools.inspect(b"") is None


def test_x509_user_is_cn_and_groups_are_organizations(cas):
    client, _, _, pools = cas
    cert, _ = client.issue("jane", ("dev", "ops"))
    user = X509Authenticator().authenticate(scope_for(pools, cert))
    assert (user.name, user.groups) == ("jane", ("dev", "ops"))


def test_x509_refuses_certificates_of_other_cas(cas):
    _, proxy, foreign, pools = cas
    for ca in (proxy, foreign):
        with pytest.raises(AuthenticationError, match="unknown authority"):
            X509Authenticator().authenticate(scope_for(pools, ca.issue("jane")[0]))


def test_x509_refuses_expired_and_not_yet_valid_certificates(cas):
    client, _, _, pools = cas
    now = datetime.datetime.now(datetime.timezone.utc)
    expired, _ = client.issue("old", not_before=now - datetime.timedelta(days=2),
                              not_after=now - datetime.timedelta(days=1))
    future, _ = client.issue("new", not_before=now + datetime.timedelta(days=1),
                             not_after=now + datetime.timedelta(days=2))
    for cert in (expired, future):
        with pytest.raises(AuthenticationError, match="expired or is not yet valid"):
            X509Authenticator().authenticate(scope_for(pools, cert))


def test_x509_without_common_name_or_certificate_has_no_opinion(cas):
    client, _, _, pools = cas
    s = scope_for(pools, client.issue("x", ("dev",))[0])
    s["extensions"]["tls"]["k8s.subject"] = (("organizationName", "dev"),)
    assert X509Authenticator().authenticate(s) is None
    assert X509Authenticator().authenticate({"type": "http", "headers": []}) is None


PROXY_HEADERS = [("X-Remote-User", "jane"), ("X-Remote-Group", "dev"),
                 ("X-Remote-Group", "ops,qa"), ("X-Remote-Extra-Scopes", "read"),
                 ("X-Remote-Extra-Scopes", "write"), ("X-Remote-Extra-Acme.com%2Fteam", "blue")]


def proxy_auth(**kw):
    return RequestHeaderAuthenticator(("X-Remote-User",), ("X-Remote-Group",),
                                      ("X-Remote-Extra-",), **kw)


def test_front_proxy_headers_name_the_user(cas):
    _, proxy, _, pools = cas
    user = proxy_auth().authenticate(scope_for(pools, proxy.issue("front-proxy")[0], PROXY_HEADERS))
    assert user.name == "jane"
    assert user.groups == ("dev", "ops,qa")          # each header value is one group
    assert user.extra == {"scopes": ["read", "write"], "acme.com/team": ["blue"]}


def test_front_proxy_allowed_names(cas):
    _, proxy, _, pools = cas
    auth = proxy_auth(allowed_names=("front-proxy",))
    assert auth.authenticate(scope_for(pools, proxy.issue("front-proxy")[0], PROXY_HEADERS)).name == "jane"
    with pytest.raises(AuthenticationError, match="not in the allowed list"):
        auth.authenticate(scope_for(pools, proxy.issue("intruder")[0], PROXY_HEADERS))


def test_spoofed_headers_on_a_client_certificate_are_not_trusted(cas):
    client, _, _, pools = cas
    spoofed = [("X-Remote-User", "system:admin"), ("X-Remote-Group", "system:masters")]
    s = scope_for(pools, client.issue("bob")[0], spoofed)
    union = Union([proxy_auth(), X509Authenticator()])
    user = union.authenticate(s)
    assert user.name == "bob" and "system:masters" not in user.groups
    union.strip(s)
    assert s["headers"] == []


def test_spoofed_headers_without_any_certificate_mean_nothing():
    s = {"type": "http", "headers": [(b"x-remote-user", b"system:admin")]}
    assert proxy_auth().authenticate(s) is None


def test_proxy_certificate_without_a_user_header_is_not_a_client_certificate(cas):
    _, proxy, _, pools = cas
    union = Union([proxy_auth(), X509Authenticator()])
    with pytest.raises(AuthenticationError, match="unknown authority"):
        union.authenticate(scope_for(pools, proxy.issue("front-proxy")[0]))
