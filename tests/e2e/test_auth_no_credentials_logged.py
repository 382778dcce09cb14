"""Credentials never reach the logs (CVE-2019-11250, CVE-2020-8565 and kin): a server at DEBUG
verbosity is sent unique canary values as bearer tokens (valid and invalid), BasicAuth
passwords, bootstrap-token secrets, a TokenReview body and a Secret body, and its whole log
is then searched for them."""
from __future__ import annotations

import base64
import json

import pytest

from watch_support import ServerGroup

CANARY = "c4nary"
TOKEN = f"{CANARY}-static-token-0001"
PASSWORD = f"{CANARY}-password-0002"
BOOTSTRAP_ID, BOOTSTRAP_SECRET = "abcdef", "0123456789c4nary"
WHOAMI = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
REVIEW = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    d = tmp_path_factory.mktemp("canaries")
    (d / "tokens.csv").write_text(f'{TOKEN},tina,1,"dev"\n')
    (d / "passwords.csv").write_text(f"{PASSWORD},bea,2\n")
    group = ServerGroup()
    try:
        yield group.start("--token-auth-file", str(d / "tokens.csv"),
                          "--basic-auth-file", str(d / "passwords.csv"),
                          "--enable-bootstrap-token-auth", "--token-success-cache-ttl=0s",
                          env={"APISERVER_LOG_LEVEL": "DEBUG"})
    finally:
        group.stop()


def post(srv, headers=None, path=WHOAMI, body=REVIEW):
    status, _, data = srv.request("POST", path, body=body, client_cert=False,
                                  headers=headers or {})
    return status, json.loads(data or b"null")


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_no_canary_reaches_the_log(srv):
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "bootstrap.kubernetes.io/token",
              "metadata": {"name": f"bootstrap-token-{BOOTSTRAP_ID}", "namespace": "kube-system"},
              "stringData": {"token-id": BOOTSTRAP_ID, "token-secret": BOOTSTRAP_SECRET,
                             "usage-bootstrap-authentication": "true"}}
    status, _, _ = srv.request("POST", "/api/v1/namespaces/kube-system/secrets", body=secret)
    assert status == 201
    assert post(srv, {"Authorization": f"Bearer {TOKEN}"})[0] == 201
    assert post(srv, {"Authorization": f"Bearer {TOKEN}-wrong"})[0] == 401
    assert post(srv, basic("bea", PASSWORD))[0] == 201
    assert post(srv, basic("bea", PASSWORD + "-wrong"))[0] == 401
    assert post(srv, {"Authorization": f"Bearer {BOOTSTRAP_ID}.{BOOTSTRAP_SECRET}"})[0] == 201
    wrong = BOOTSTRAP_SECRET[:-1] + "x"
    assert post(srv, {"Authorization": f"Bearer {BOOTSTRAP_ID}.{wrong}"})[0] == 401
    assert post(srv, {"Authorization": f"Bearer {CANARY}.garbled.jwt-ish"})[0] == 401
    status, _, data = srv.request(
        "POST", "/apis/authentication.k8s.io/v1/tokenreviews",
        body={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
              "spec": {"token": f"{CANARY}-reviewed-token"}})
    assert status == 201 and json.loads(data)["status"]["authenticated"] is False
    status, _, _ = srv.request("POST", "/api/v1/namespaces/default/secrets", body={
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "canary"},
        "stringData": {"password": f"{CANARY}-secret-body"}})
    assert status == 201
    log = srv.log_path.read_text(errors="replace")
    # the failures were logged (with their reasons), just not the credentials
    assert log.count("unable to authenticate the request") >= 4
    assert CANARY not in log
    assert base64.b64encode(PASSWORD.encode()).decode() not in log
