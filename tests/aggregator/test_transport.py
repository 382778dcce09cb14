"""What the aggregator sends a backend: the caller's credentials and self-asserted identity
headers never; the authenticated user as X-Remote-* headers always."""
from __future__ import annotations

from aggregator.transport import backend_headers, response_headers
from apiserver.authentication.user import UserInfo


def _names(headers):
    return [k for k, _ in headers]


def test_credentials_and_claimed_identities_are_dropped():
    client = [(b"Authorization", b"Bearer secret-token"), (b"Proxy-Authorization", b"Basic x"),
              (b"Cookie", b"session=1"), (b"X-Remote-User", b"mallory"),
              (b"x-remote-group", b"system:masters"), (b"X-Remote-Extra-Scopes", b"all"),
              (b"Impersonate-User", b"root"), (b"Accept", b"application/json"),
              (b"Connection", b"keep-alive, X-Custom"), (b"X-Custom", b"hop"),
              (b"Host", b"evil.example"), (b"User-Agent", b"kubectl")]
    user = UserInfo("alice", groups=("dev", "system:authenticated"),
                    extra={"scopes.example.com/x y": ["a", "b"]})
    out = backend_headers(client, user, "demo-api.default.svc:443")
    assert (b"host", b"demo-api.default.svc:443") in out
    assert not {b"authorization", b"proxy-authorization", b"cookie", b"impersonate-user",
                b"x-custom", b"connection"} & set(_names(out))
    assert [v for k, v in out if k == b"x-remote-user"] == [b"alice"]
    assert [v for k, v in out if k == b"x-remote-group"] == [b"dev", b"system:authenticated"]
    # extra keys are escaped into a legal header name, one header per value
    assert [v for k, v in out if k == b"x-remote-extra-scopes.example.com%2Fx%20y"] == [b"a", b"b"]
    assert b"x-remote-extra-scopes" not in _names(out)
    assert (b"accept", b"application/json") in out and (b"user-agent", b"kubectl") in out


def test_no_user_means_no_identity_headers():
    out = backend_headers([(b"X-Remote-User", b"mallory")], None, "h:1")
    assert _names(out) == [b"host"]


def test_hop_by_hop_response_headers_are_not_relayed():
    out = response_headers([(b"Content-Type", b"application/json"),
                            (b"Transfer-Encoding", b"chunked"), (b"Connection", b"close"),
                            (b"Content-Length", b"2")])
    assert out == [(b"content-type", b"application/json"), (b"content-length", b"2")]
