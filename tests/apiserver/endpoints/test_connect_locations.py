"""Connect-style subresources without a server: options decoded from the query as
apimachinery decodes them, the addresses a proxy may dial, the headers a backend may see,
and a backend's refusal as a Status."""
from __future__ import annotations

import pytest

from apiserver.endpoints.connect import _target, is_upgrade
from apiserver.endpoints.upgrade_proxy import forwarded_headers, request_head, response_error
from apiserver.registry.strategy import Location
from apiserver.runtime import errors
from resources.core.kubelet_location import check_ip, split_scheme_name_port
from resources.core.pod_connect import ATTACH, EXEC, LOG, PORT_FORWARD, _log_errors


def test_exec_options_decode_bools_as_apimachinery():
    q = {"command": ["sh", "-c", "echo hi"], "stdin": [""], "stdout": ["true"],
         "stderr": ["False"], "tty": ["0"], "container": ["c"]}
    assert EXEC.options(q, "") == {"kind": "PodExecOptions", "apiVersion": "v1",
                                   "stdin": True, "stdout": True, "container": "c",
                                   "command": ["sh", "-c", "echo hi"]}
    # the Python client's True/False
    assert ATTACH.options({"stdout": ["True"], "tty": ["False"]}, "") == \
        {"kind": "PodAttachOptions", "apiVersion": "v1", "stdout": True}


def test_port_forward_ports_repeated_or_comma_separated():
    assert PORT_FORWARD.options({"ports": ["80,443", "8080"]}, "")["ports"] == [80, 443, 8080]
    assert "ports" not in PORT_FORWARD.options({}, "")
    with pytest.raises(errors.BadRequest):
        PORT_FORWARD.options({"ports": ["http"]}, "")


def test_log_options_and_their_validation():
    opts = LOG.options({"follow": ["true"], "tailLines": ["5"], "sinceTime":
                        ["2024-05-01T10:00:00+02:00"], "timestamps": ["1"]}, "")
    assert opts == {"kind": "PodLogOptions", "apiVersion": "v1", "follow": True,
                    "timestamps": True, "tailLines": 5, "sinceTime": "2024-05-01T08:00:00Z"}
    with pytest.raises(errors.BadRequest):
        LOG.options({"tailLines": ["x"]}, "")
    assert [e.error_text() for e in _log_errors({"sinceSeconds": 0})] == \
        ["sinceSeconds: Invalid value: 0: must be greater than 0"]
    assert [e.error_text() for e in _log_errors({"sinceSeconds": 5, "sinceTime": "t"})] == \
        ["Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified"]
    assert [e.error_text() for e in _log_errors({"limitBytes": 0})] == \
        ["limitBytes: Invalid value: 0: must be greater than 0"]


@pytest.mark.parametrize("ip", ["169.254.169.254", "0.0.0.0", "::", "224.0.0.1",
                                "255.255.255.255", "fe80::1", "::ffff:169.254.169.254",
                                "not-an-ip"])
def test_addresses_never_dialled(ip):
    with pytest.raises(errors.BadRequest, match="address not allowed"):
        check_ip(ip)


def test_loopback_only_for_kubelets():
    assert check_ip("127.0.0.1") == "127.0.0.1"
    assert check_ip("10.244.0.5", loopback=False) == "10.244.0.5"
    for ip in ("127.0.0.1", "::1", "::ffff:127.0.0.1"):
        with pytest.raises(errors.BadRequest):
            check_ip(ip, loopback=False)


def test_scheme_name_port():
    assert split_scheme_name_port("web") == ("", "web", "")
    assert split_scheme_name_port("web:8080") == ("", "web", "8080")
    assert split_scheme_name_port("https:web:443") == ("https", "web", "443")
    assert split_scheme_name_port("ftp:web:21") is None
    assert split_scheme_name_port("a:b:c:d") is None


def test_backends_never_see_the_callers_credentials():
    headers = [(b"Authorization", b"Bearer secret"), (b"Impersonate-User", b"x"),
               (b"X-Remote-User", b"admin"), (b"Cookie", b"c"), (b"Upgrade", b"SPDY/3.1"),
               (b"Connection", b"Upgrade"), (b"X-Stream-Protocol-Version", b"v4.channel.k8s.io"),
               (b"Host", b"apiserver"), (b"Proxy-Authorization", b"p"),
               (b"Sec-WebSocket-Protocol",
                b"base64url.bearer.authorization.k8s.io.c2VjcmV0, v4.channel.k8s.io")]
    out = forwarded_headers(headers, "127.0.0.1:10250", "10.0.0.9", upgrade=True)
    names = [k for k, _ in out]
    assert out[0] == (b"host", b"127.0.0.1:10250")
    assert not {b"authorization", b"impersonate-user", b"x-remote-user", b"cookie",
                b"proxy-authorization"} & set(names)
    assert (b"upgrade", b"SPDY/3.1") in out and (b"connection", b"Upgrade") in out
    assert (b"x-stream-protocol-version", b"v4.channel.k8s.io") in out
    assert (b"x-forwarded-for", b"10.0.0.9") in out
    assert (b"sec-websocket-protocol", b"v4.channel.k8s.io") in out
    plain = forwarded_headers(headers, "h:1", "", upgrade=False)
    assert (b"connection", b"close") in plain and b"upgrade" not in [k for k, _ in plain]


def test_a_backends_refusal_as_a_status():
    assert response_error(400, b"bad", "pods", "p").to_status()["message"] == "bad"
    st = response_error(500, b"boom", "pods", "p").to_status()
    assert (st["code"], st["reason"], st["message"]) == \
        (500, "InternalError", "Internal error occurred: boom")
    st = response_error(404, b"no such container", "pods", "p").to_status()
    assert (st["code"], st["reason"]) == (404, "NotFound")
    assert st["details"]["causes"] == [{"reason": "UnexpectedServerResponse",
                                        "message": "no such container"}]
    st = response_error(302, b"", "pods", "p").to_status()
    assert st["code"] == 302 and "reason" not in st


def test_only_websocket_and_spdy_upgrades_are_passed_on():
    def http(*headers):
        return {"type": "http", "headers": list(headers)}
    assert is_upgrade({"type": "websocket", "headers": []})
    assert is_upgrade(http((b"connection", b"keep-alive, Upgrade"), (b"upgrade", b"SPDY/3.1")))
    assert not is_upgrade(http((b"connection", b"Upgrade"), (b"upgrade", b"h2c")))
    assert not is_upgrade(http((b"upgrade", b"SPDY/3.1")))
    assert not is_upgrade(http())


def test_a_proxied_path_cannot_end_the_request_line():
    loc = Location(host="127.0.0.1", port=1, path="/healthz HTTP/1.1\r\nX-Evil: 1\r\n\r\nGET /x")
    target = _target(loc, "a=1")
    assert target == "/healthz%20HTTP/1.1%0D%0AX-Evil:%201%0D%0A%0D%0AGET%20/x?a=1"
    assert _target(Location(host="h", port=1, path="/a b/%/ü"), "") == "/a%20b/%25/%C3%BC"
    with pytest.raises(errors.BadRequest):
        request_head("GET", "/x y", [])
    with pytest.raises(errors.BadRequest):
        request_head("GET", "/x", [(b"x", b"a\r\nb: c")])
