"""ImagePolicyWebhook against a real HTTPS backend on 127.0.0.1: the ImageReview it sends
(images in VisitContainers order, filtered annotations, namespace), refusals with upstream's
texts, answers cached for allowTTL/denyTTL, a backend that is down failing closed or, with
defaultAllow, open with the failed-open marks, audit annotations, what is left alone, and the
configuration refused at start as upstream's normalizeWebhookConfig."""
from __future__ import annotations

import dataclasses
import json

import orjson
import pytest

from apiserver.admission.base import Attributes
from apiserver.options import Options
from apiserver.runtime import errors
from resources.admission.image_policy_webhook import (
    AUDIT_PREFIX, POD_FAILED_OPEN, ImagePolicyWebhook, go_duration)
from tests.apiserver.authentication.webhook_support import ReviewServer
from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import ASGIClient, in_process_app


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def verdict(allowed, reason="", audit=None):
    """An ``answer`` for ReviewServer: every review gets this status."""

    def answer(review):
        status = {"allowed": allowed}
        if reason:
            status["reason"] = reason
        if audit:
            status["auditAnnotations"] = audit
        return 200, {"apiVersion": review["apiVersion"], "kind": "ImageReview",
                     "status": status}

    return answer


@pytest.fixture
def backend(tmp_path):
    server = ReviewServer(tmp_path, answer=verdict(True), path="/imagepolicy")
    yield server
    server.stop()


def plugin(backend, clock=None, **policy) -> ImagePolicyWebhook:
    p = ImagePolicyWebhook(clock=clock or FakeClock(), sleep=lambda s: None)
    p.configure({"imagePolicy": {"kubeConfigFile": str(backend.kubeconfig()), **policy}})
    return p


def pod_attrs(operation="CREATE", subresource="", resource="pods", annotations=None, **spec):
    spec = spec or {"containers": [{"name": "c", "image": "nginx:1.27"}]}
    meta = {"name": "p", "namespace": "team"}
    if annotations is not None:
        meta["annotations"] = annotations
    return Attributes(operation=operation, group="", version="v1", kind="Pod",
                      resource=resource, subresource=subresource, namespace="team", name="p",
                      obj={"metadata": meta, "spec": spec}, old=None)


def refusal(p, attrs) -> errors.APIError:
    with pytest.raises(errors.APIError) as caught:
        p.validate(attrs)
    return caught.value


def test_the_review_lists_every_image_the_policy_annotations_and_the_namespace(backend):
    p = plugin(backend)
    p.validate(pod_attrs(
        annotations={"a.image-policy.k8s.io/ticket": "1234", "other/key": "x",
                     "image-policy.k8s.io/no-dot-before": "y"},
        containers=[{"name": "app", "image": "app:2"}, {"name": "side", "image": "proxy:1"}],
        initContainers=[{"name": "init", "image": "busybox"}],
        ephemeralContainers=[{"name": "debug", "image": "debian"}]))
    (review,) = backend.reviews()
    assert review == {
        "apiVersion": "imagepolicy.k8s.io/v1alpha1", "kind": "ImageReview",
        "metadata": {"creationTimestamp": None},
        "spec": {"containers": [{"image": "busybox"}, {"image": "app:2"}, {"image": "proxy:1"},
                                {"image": "debian"}],
                 "annotations": {"a.image-policy.k8s.io/ticket": "1234"},
                 "namespace": "team"},
        "status": {"allowed": False}}
    # the API server authenticates with the kubeconfig's client certificate
    assert backend.calls[0]["client_cn"] == "kube-apiserver"
    assert backend.calls[0]["path"] == "/imagepolicy"


def test_a_refusal_carries_the_backends_reason_or_upstreams_default(backend):
    backend.answer = verdict(False, reason="image nginx:1.27 is not signed")
    err = refusal(plugin(backend), pod_attrs())
    assert (err.code, err.reason) == (403, "Forbidden")
    assert err.message == ('pods "p" is forbidden: image policy webhook backend denied one or '
                           'more images: image nginx:1.27 is not signed')
    backend.answer = verdict(False)
    assert refusal(plugin(backend), pod_attrs()).message == (
        'pods "p" is forbidden: one or more images rejected by webhook backend')
    # an answer without a status allows nothing
    backend.answer = lambda review: (200, {"kind": "ImageReview"})
    assert "rejected by webhook backend" in refusal(plugin(backend), pod_attrs()).message


def test_answers_are_cached_by_spec_for_allow_and_deny_ttl(backend):
    clock = FakeClock()
    p = plugin(backend, clock=clock, allowTTL=10, denyTTL=2)
    p.validate(pod_attrs())
    p.validate(pod_attrs())
    assert len(backend.reviews()) == 1            # the second is the cached answer
    clock.now += 11
    p.validate(pod_attrs())
    assert len(backend.reviews()) == 2            # expired: asked again
    backend.answer = verdict(False, reason="no")
    other = pod_attrs(containers=[{"name": "c", "image": "evil:1"}])
    refusal(p, other)
    refusal(p, other)
    assert len(backend.reviews()) == 3            # a refusal is cached too
    clock.now += 3
    refusal(p, other)
    assert len(backend.reviews()) == 4            # … for denyTTL only
    uncached = plugin(backend, clock=clock, allowTTL=-1, denyTTL=-1)
    refusal(uncached, other)
    refusal(uncached, other)
    assert len(backend.reviews()) == 6            # -1: every request asks


def test_audit_annotations_of_the_answer_are_prefixed(backend):
    backend.answer = verdict(True, audit={"scanned-by": "trivy"})
    attrs = pod_attrs()
    plugin(backend).validate(attrs)
    assert attrs.annotations == {AUDIT_PREFIX + "scanned-by": "trivy"}


def test_a_backend_that_is_down_fails_closed_unless_default_allow(backend):
    closed = plugin(backend)
    fail_open = plugin(backend, defaultAllow=True)
    backend.stop()
    err = refusal(closed, pod_attrs())
    assert err.code == 403 and err.message.startswith('pods "p" is forbidden: ')
    assert f"127.0.0.1:{backend.port}" in err.message
    attrs = pod_attrs(annotations={"keep": "me"})
    fail_open.validate(attrs)
    assert attrs.obj["metadata"]["annotations"] == {"keep": "me", POD_FAILED_OPEN: "true"}
    assert attrs.annotations == {AUDIT_PREFIX + "failed-open": "true"}


def test_an_error_status_from_the_backend_is_a_failure_too(backend):
    backend.answer = lambda review: (403, {"message": "who are you"})
    err = refusal(plugin(backend), pod_attrs())
    assert err.code == 403 and "HTTP 403" in err.message
    attrs = pod_attrs()
    plugin(backend, defaultAllow=True).validate(attrs)
    assert attrs.obj["metadata"]["annotations"] == {POD_FAILED_OPEN: "true"}


def test_only_pods_and_their_ephemeral_containers_are_reviewed(backend):
    backend.answer = verdict(False)
    p = plugin(backend)
    p.validate(pod_attrs(subresource="status"))
    p.validate(pod_attrs(subresource="binding"))
    p.validate(pod_attrs(resource="podtemplates"))
    assert backend.reviews() == []
    refusal(p, pod_attrs(subresource="ephemeralcontainers"))
    refusal(p, pod_attrs(operation="UPDATE"))
    assert len(backend.reviews()) == 1            # the same spec: the cached refusal
    assert p.handles("CREATE") and p.handles("UPDATE")
    assert not p.handles("DELETE") and not p.handles("CONNECT")


@pytest.mark.parametrize("policy, message", [
    ({"allowTTL": 3600}, "valid value is between 1s and 30m0s, got 1h0m0s"),
    ({"denyTTL": 1}, "valid value is between 1s and 30m0s, got 1s"),
    ({"retryBackoff": 300001}, "valid value is between 1ns and 5m0s, got 5m0.001s"),
    ({"allowTTL": "5m"}, "imagePolicy.allowTTL must be a number, got '5m'"),
])
def test_durations_out_of_range_refuse_the_start(backend, policy, message):
    with pytest.raises(ValueError) as caught:
        plugin(backend, **policy)
    assert str(caught.value) == message


def test_a_missing_or_unusable_configuration_refuses_the_start(backend, tmp_path):
    p = ImagePolicyWebhook()
    with pytest.raises(ValueError, match="^no config specified$"):
        p.configure(None)
    with pytest.raises(ValueError, match="kubeConfigFile is required"):
        p.configure({"imagePolicy": {"allowTTL": 5}})
    insecure = backend.kubeconfig("plain.kubeconfig",
                                  cluster={"server": f"http://127.0.0.1:{backend.port}/"})
    with pytest.raises(ValueError, match="http:// servers are refused"):
        p.configure({"imagePolicy": {"kubeConfigFile": str(insecure)}})
    with pytest.raises(ValueError, match="cannot read it"):
        p.configure({"imagePolicy": {"kubeConfigFile": str(tmp_path / "absent")}})


def test_go_duration_text():
    assert [go_duration(s) for s in (1e-9, 0.5, 1, 30, 300, 1800, 3600, 300.001, 5400)] == [
        "1ns", "500ms", "1s", "30s", "5m0s", "30m0s", "1h0m0s", "5m0.001s", "1h30m0s"]


# ---- through the server: flags, the configuration file, the stored pod -------------------
def server(tmp_path, backend, legacy=False, **policy):
    policy = {"kubeConfigFile": str(backend.kubeconfig()), **policy}
    if legacy:
        doc = {"imagePolicy": policy}
    else:
        (tmp_path / "imagepolicy.json").write_text(json.dumps({"imagePolicy": policy}))
        doc = {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "AdmissionConfiguration",
               "plugins": [{"name": "ImagePolicyWebhook", "path": "imagepolicy.json"}]}
    (tmp_path / "admission.json").write_text(json.dumps(doc))
    options = dataclasses.replace(Options(),
                                  admission_control_config_file=str(tmp_path / "admission.json"))
    return ASGIClient(in_process_app(admission_plugins=("ImagePolicyWebhook",),
                                     options=options)[1])


POD = {"metadata": {"name": "web"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


def test_the_server_refuses_a_pod_the_backend_denies(db, tmp_path, backend):
    ensure_revision_row()
    backend.answer = lambda review: (200, {"status": {
        "allowed": review["spec"]["containers"][0]["image"] != "nginx",
        "reason": "nginx is not allowed here"}})
    client = server(tmp_path, backend)
    r = client.post("/api/v1/namespaces/default/pods", POD)
    assert r.status_code == 403
    assert r.json()["message"] == ('pods "web" is forbidden: image policy webhook backend '
                                   'denied one or more images: nginx is not allowed here')
    assert r.json()["details"] == {"name": "web", "kind": "pods"}
    assert client.get("/api/v1/namespaces/default/pods/web").status_code == 404
    ok = orjson.loads(orjson.dumps(POD))
    ok["spec"]["containers"][0]["image"] = "nginx-signed"
    assert client.post("/api/v1/namespaces/default/pods", ok).status_code == 201


def test_a_failed_open_pod_is_stored_with_the_mark(db, tmp_path, backend):
    ensure_revision_row()
    client = server(tmp_path, backend, legacy=True, defaultAllow=True)
    backend.stop()
    r = client.post("/api/v1/namespaces/default/pods", POD)
    assert r.status_code == 201, r.json()
    stored = client.get("/api/v1/namespaces/default/pods/web").json()
    assert stored["metadata"]["annotations"] == {POD_FAILED_OPEN: "true"}


def test_enabled_without_configuration_the_server_does_not_start(db):
    with pytest.raises(ValueError) as caught:
        in_process_app(admission_plugins=("ImagePolicyWebhook",))
    assert str(caught.value) == ('couldn\'t init admission plugin "ImagePolicyWebhook": '
                                 'no config specified')
