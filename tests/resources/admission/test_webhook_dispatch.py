"""Admission webhooks against a real HTTPS webhook server started by the test."""
from __future__ import annotations

import base64
import json
import ssl
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import ASGIClient, in_process_app
from tests.certs import CA

SEEN: list[dict] = []


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_POST(self):
        review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        SEEN.append(review)
        req = review["request"]
        resp = {"uid": req["uid"], "allowed": True}
        if self.path == "/deny" and (req.get("object") or {}).get("metadata", {}).get("name") == "bad":
            resp = {"uid": req["uid"], "allowed": False,
                    "status": {"code": 403, "message": "no bad names"}, "warnings": ["careful"]}
        if self.path == "/cpu50":          # an autoscaling/v1 HPA field
            patch = [{"op": "replace", "path": "/spec/targetCPUUtilizationPercentage",
                      "value": 50}]
            resp.update(patchType="JSONPatch",
                        patch=base64.b64encode(json.dumps(patch).encode()).decode())
        if self.path == "/label":
            patch = [{"op": "add", "path": "/metadata/labels", "value": {"added": "yes"}}]
            resp.update(patchType="JSONPatch",
                        patch=base64.b64encode(json.dumps(patch).encode()).decode())
        body = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                           "response": resp}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server():
    ca = CA("webhook-ca")
    d = Path(tempfile.mkdtemp())
    crt, key = ca.write_pair(d, "serving", "hook", client=False,
                             hosts=("127.0.0.1", "hook.default.svc"))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address[1], base64.b64encode(ca.pem).decode()
    httpd.shutdown()


RULES = [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
          "resources": ["configmaps"]}]


def config(kind, name, client_config, **extra):
    hook = {"name": name, "clientConfig": client_config, "rules": RULES,
            "sideEffects": "None", "admissionReviewVersions": ["v1"], **extra}
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind,
            "metadata": {"name": name}, "webhooks": [hook]}


def post_config(client, kind, body):
    plural = kind.lower() + "s"
    resp = client.post(f"/apis/admissionregistration.k8s.io/v1/{plural}", body)
    assert resp.status_code == 201, resp.content


@pytest.fixture
def client(db):
    ensure_revision_row()
    completed, app = in_process_app(admission_plugins=("MutatingAdmissionWebhook",
                                                       "ValidatingAdmissionWebhook"))
    c = ASGIClient(app)
    c.stores = completed.stores
    assert c.post("/api/v1/namespaces", {"metadata": {"name": "default"}}).status_code in (201, 409)
    return c


def test_validating_url_denies_with_webhook_status(client, server):
    port, ca = server
    post_config(client, "ValidatingWebhookConfiguration", config(
        "ValidatingWebhookConfiguration", "deny.example.com",
        {"url": f"https://127.0.0.1:{port}/deny", "caBundle": ca}))
    resp = client.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "bad"}})
    assert resp.status_code == 403, resp.content
    assert resp.json()["message"] == \
        'admission webhook "deny.example.com" denied the request: no bad names'
    resp = client.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "good"}})
    assert resp.status_code == 201, resp.content
    review = SEEN[-1]
    assert review["kind"] == "AdmissionReview" and review["request"]["operation"] == "CREATE"
    assert review["request"]["resource"] == {"group": "", "version": "v1", "resource": "configmaps"}
    assert review["request"]["namespace"] == "default"


def test_mutating_service_reference_adds_label(client, server):
    port, ca = server
    assert client.post("/api/v1/namespaces/default/services", {
        "metadata": {"name": "hook"},
        "spec": {"ports": [{"port": 443, "targetPort": port}]}}).status_code == 201
    # validation refuses loopback addresses (as upstream), so the test writes the
    # Endpoints straight to storage: the webhook resolver dials them directly
    store = client.stores.store("", "v1", "endpoints")
    store.storage.create(store.resource, "default", "hook", {
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "hook", "namespace": "default"},
        "subsets": [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"port": port}]}]})
    post_config(client, "MutatingWebhookConfiguration", config(
        "MutatingWebhookConfiguration", "label.example.com",
        {"service": {"namespace": "default", "name": "hook", "path": "/label"}, "caBundle": ca}))
    resp = client.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "m"}})
    assert resp.status_code == 201, resp.content
    assert resp.json()["metadata"]["labels"] == {"added": "yes"}


def test_failure_policy(client, server):
    _, ca = server
    dead = {"url": "https://127.0.0.1:1/", "caBundle": ca}
    post_config(client, "ValidatingWebhookConfiguration", config(
        "ValidatingWebhookConfiguration", "ignore.example.com", dead, failurePolicy="Ignore"))
    assert client.post("/api/v1/namespaces/default/configmaps",
                       {"metadata": {"name": "a"}}).status_code == 201
    post_config(client, "ValidatingWebhookConfiguration", config(
        "ValidatingWebhookConfiguration", "fail.example.com", dead, failurePolicy="Fail"))
    resp = client.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "b"}})
    assert resp.status_code == 500
    assert 'failed calling webhook "fail.example.com"' in resp.json()["message"]


def test_dry_run_with_side_effects_refused():
    # v1 accepts only None/NoneOnDryRun; "Some"/"Unknown" survive from older versions
    from apiserver.admission.base import Attributes
    from resources.admission.webhook_dispatch import dry_run_check
    from apiserver.runtime import errors
    attrs = Attributes(operation="CREATE", group="", version="v1", kind="ConfigMap",
                       resource="configmaps", subresource="", namespace="default", name="d",
                       obj={}, old=None, dry_run=True)
    dry_run_check({"name": "ok", "sideEffects": "NoneOnDryRun"}, attrs)
    with pytest.raises(errors.BadRequest) as exc:
        dry_run_check({"name": "side.example.com", "sideEffects": "Some"}, attrs)
    assert exc.value.message == 'admission webhook "side.example.com" does not support dry run'


def test_rules_match_subresources_and_scope():
    from resources.admission.webhook_dispatch import rule_matches
    from apiserver.admission.base import Attributes

    def a(resource, sub="", ns="default"):
        return Attributes(operation="UPDATE", group="", version="v1", kind="Pod",
                          resource=resource, subresource=sub, namespace=ns, name="p",
                          obj={}, old={})
    rule = {"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"]}
    assert rule_matches({**rule, "resources": ["*"]}, a("pods"))
    assert not rule_matches({**rule, "resources": ["*"]}, a("pods", "status"))
    assert rule_matches({**rule, "resources": ["*/*"]}, a("pods", "status"))
    assert rule_matches({**rule, "resources": ["pods/status"]}, a("pods", "status"))
    assert not rule_matches({**rule, "resources": ["pods"], "scope": "Cluster"}, a("pods"))
    assert rule_matches({**rule, "resources": ["nodes"], "scope": "Cluster"}, a("nodes", ns=""))


def _calls_for(name):
    return [r for r in SEEN if (r["request"].get("object") or {}).get("metadata", {})
            .get("name") == name]


def test_match_conditions_decide_whether_the_webhook_is_called(client, server):
    port, ca = server
    SEEN.clear()
    hook = {"url": f"https://127.0.0.1:{port}/deny", "caBundle": ca}
    post_config(client, "ValidatingWebhookConfiguration", config(
        "ValidatingWebhookConfiguration", "cond.example.com", hook, matchConditions=[
            {"name": "not-exempt", "expression":
             "!has(object.metadata.labels) || !('exempt' in object.metadata.labels)"},
            {"name": "creates", "expression": "request.operation == 'CREATE'"}]))
    # "bad" is refused by the webhook unless a condition is false
    resp = client.post("/api/v1/namespaces/default/configmaps",
                       {"metadata": {"name": "bad", "labels": {"exempt": "yes"}}})
    assert resp.status_code == 201, resp.content
    assert _calls_for("bad") == []
    client.delete("/api/v1/namespaces/default/configmaps/bad")
    resp = client.post("/api/v1/namespaces/default/configmaps", {"metadata": {"name": "bad"}})
    assert resp.status_code == 403
    assert resp.json()["message"] == \
        'admission webhook "cond.example.com" denied the request: no bad names'


@pytest.mark.parametrize("policy", ["Fail", "Ignore"])
def test_a_match_condition_error_follows_the_failure_policy(client, server, policy):
    port, ca = server
    SEEN.clear()
    hook = {"url": f"https://127.0.0.1:{port}/deny", "caBundle": ca}
    expression = "object.data.missing == 'x'"
    post_config(client, "ValidatingWebhookConfiguration", config(
        "ValidatingWebhookConfiguration", "err.example.com", hook, failurePolicy=policy,
        matchConditions=[{"name": "data", "expression": expression}]))
    name = f"cm-{policy.lower()}"
    resp = client.post("/api/v1/namespaces/default/configmaps",
                       {"metadata": {"name": name}, "data": {"k": "v"}})
    assert _calls_for(name) == []
    if policy == "Ignore":
        assert resp.status_code == 201, resp.content
        return
    assert resp.status_code == 403, resp.content
    body = resp.json()
    assert body["reason"] == "Forbidden"
    assert body["message"].startswith(
        f'configmaps "{name}" is forbidden: expression \'{expression}\' resulted in error: ')
    # a false condition wins over an error: the webhook is skipped, the request admitted
    post_config(client, "ValidatingWebhookConfiguration", config(
        "ValidatingWebhookConfiguration", "err2.example.com", hook, matchConditions=[
            {"name": "data", "expression": expression},
            {"name": "never", "expression": "false"}]))
    client.delete("/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/"
                  "err.example.com")
    resp = client.post("/api/v1/namespaces/default/configmaps",
                       {"metadata": {"name": "bad"}, "data": {"k": "v"}})
    assert resp.status_code == 201, resp.content
