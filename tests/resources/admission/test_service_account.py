"""ServiceAccount: the default account, the account must exist, the projected token volume
and its mounts, pull secrets from the account, mirror pods and mountable-secret rules, with
upstream's messages."""
from __future__ import annotations

import re

import orjson
import pytest

from apiserver.admission.base import Attributes
from apiserver.runtime import errors
from resources.admission import service_account
from resources.admission.service_account import TOKEN_MOUNT_PATH, token_volume_source
from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import ASGIClient, in_process_app
from tests.conftest import build_server

MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
EXPECTED_SOURCE = {"sources": [
    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
    {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
    {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
        "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}], "defaultMode": 420}


@pytest.fixture
def stores(db):
    ensure_revision_row()
    stores = build_server(admission_plugins=("ServiceAccount",))[0].stores
    sas = stores.store("", "v1", "serviceaccounts")
    from apiserver.registry.context import system_context
    ctx = system_context("tests")
    sas.create("ns1", {"metadata": {"name": "default"}}, ctx)
    sas.create("ns1", {"metadata": {"name": "robot"}, "automountServiceAccountToken": False,
                       "imagePullSecrets": [{"name": "regcred"}]}, ctx)
    sas.create("ns1", {"metadata": {"name": "strict", "annotations": {
        "kubernetes.io/enforce-mountable-secrets": "true"}},
        "secrets": [{"name": "allowed"}], "imagePullSecrets": [{"name": "pull"}]}, ctx)
    return stores


def pod(name="p", **spec):
    spec.setdefault("containers", [{"name": "c", "image": "busybox"}])
    return {"metadata": {"name": name}, "spec": spec}


def create(stores, ctx, obj):
    return orjson.loads(stores.store("", "v1", "pods").create("ns1", obj, ctx))


def refused(stores, ctx, obj) -> str:
    with pytest.raises(errors.Forbidden) as exc:
        create(stores, ctx, obj)
    return exc.value.message


def test_default_account_and_token_volume(stores, ctx):
    made = create(stores, ctx, pod(initContainers=[{"name": "i", "image": "busybox"}]))
    spec = made["spec"]
    assert spec["serviceAccountName"] == "default" and spec["serviceAccount"] == "default"
    [volume] = spec["volumes"]
    assert re.fullmatch(r"kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}", volume["name"])
    assert volume["projected"] == EXPECTED_SOURCE == token_volume_source()
    mount = {"name": volume["name"], "readOnly": True, "mountPath": MOUNT_PATH}
    assert spec["containers"][0]["volumeMounts"] == [mount]
    assert spec["initContainers"][0]["volumeMounts"] == [mount]
    assert "imagePullSecrets" not in spec and TOKEN_MOUNT_PATH == MOUNT_PATH


def test_missing_account_is_forbidden(stores, ctx):
    assert refused(stores, ctx, pod(serviceAccountName="foo")) == (
        'pods "p" is forbidden: error looking up service account ns1/foo: '
        'serviceaccount "foo" not found')
    # the deprecated field names the account when serviceAccountName is empty
    assert "ns1/bar" in refused(stores, ctx, pod(serviceAccount="bar"))


def test_missing_default_account_is_looked_up_again(stores, ctx, monkeypatch):
    plugin = stores.admission.plugins[0]
    plugin.attempts_for_default = 3
    naps = []
    monkeypatch.setattr(service_account.time, "sleep", naps.append)
    pods = stores.store("", "v1", "pods")
    with pytest.raises(errors.Forbidden) as exc:
        pods.create("empty", pod(), ctx)
    assert exc.value.message == ('pods "p" is forbidden: error looking up service account '
                                 'empty/default: serviceaccount "default" not found')
    assert len(naps) == 2 and all(0.1 <= n <= 0.2 for n in naps)
    naps.clear()
    with pytest.raises(errors.Forbidden):
        pods.create("empty", pod(serviceAccountName="other"), ctx)
    assert naps == []                         # other names are looked up once


def test_automount_preferences(stores, ctx):
    off = create(stores, ctx, pod("a", automountServiceAccountToken=False))["spec"]
    assert "volumes" not in off and "volumeMounts" not in off["containers"][0]
    robot = create(stores, ctx, pod("b", serviceAccountName="robot"))["spec"]
    assert "volumes" not in robot                                   # the account says no
    assert robot["imagePullSecrets"] == [{"name": "regcred"}]       # copied from the account
    wins = create(stores, ctx, pod("c", serviceAccountName="robot",
                                   automountServiceAccountToken=True,
                                   imagePullSecrets=[{"name": "mine"}]))["spec"]
    assert wins["volumes"][0]["name"].startswith("kube-api-access-")  # the pod's choice wins
    assert wins["imagePullSecrets"] == [{"name": "mine"}]           # the pod's own are kept


def test_existing_mounts_and_volumes(stores, ctx):
    own = {"name": "mine", "mountPath": MOUNT_PATH}
    made = create(stores, ctx, pod("a", volumes=[{"name": "mine", "emptyDir": {}}], containers=[
        {"name": "c", "image": "i", "volumeMounts": [own]}, {"name": "d", "image": "i"}]))["spec"]
    token = made["volumes"][1]["name"]
    assert made["containers"][0]["volumeMounts"] == [own]
    assert made["containers"][1]["volumeMounts"] == [
        {"name": token, "readOnly": True, "mountPath": MOUNT_PATH}]
    all_mounted = create(stores, ctx, pod("b", volumes=[{"name": "mine", "emptyDir": {}}],
                                         containers=[{"name": "c", "image": "i",
                                                      "volumeMounts": [own]}]))["spec"]
    assert [v["name"] for v in all_mounted["volumes"]] == ["mine"]   # nobody needs the token
    reused = create(stores, ctx, pod("c", volumes=[
        {"name": "kube-api-access-abcde", "projected": token_volume_source()}]))["spec"]
    assert [v["name"] for v in reused["volumes"]] == ["kube-api-access-abcde"]
    assert reused["containers"][0]["volumeMounts"][0]["name"] == "kube-api-access-abcde"


def mirror(**spec):
    obj = pod("m", nodeName="n1", **spec)
    obj["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "hash"}
    return obj


def test_mirror_pods(stores, ctx):
    made = create(stores, ctx, mirror())["spec"]
    assert "volumes" not in made                       # a mirror pod's spec is not touched
    assert refused(stores, ctx, mirror(serviceAccountName="default")) == \
        'pods "m" is forbidden: a mirror pod may not reference service accounts'
    assert refused(stores, ctx, mirror(volumes=[{"name": "s", "secret": {"secretName": "x"}}])) \
        == 'pods "m" is forbidden: a mirror pod may not reference secrets'
    assert refused(stores, ctx, mirror(volumes=[{"name": "t", "projected": {"sources": [
        {"serviceAccountToken": {"path": "token"}}]}}])) == \
        'pods "m" is forbidden: a mirror pod may not use ServiceAccountToken volume projections'


def test_enforce_mountable_secrets(stores, ctx):
    strict = {"serviceAccountName": "strict"}
    create(stores, ctx, pod("ok", volumes=[{"name": "s", "secret": {"secretName": "allowed"}}],
                            **strict))
    assert refused(stores, ctx, pod(volumes=[{"name": "s", "secret": {"secretName": "other"}}],
                                    **strict)) == (
        'pods "p" is forbidden: volume with secret.secretName="other" is not allowed because '
        'service account strict does not reference that secret')
    env = [{"name": "E", "valueFrom": {"secretKeyRef": {"name": "other", "key": "k"}}}]
    assert refused(stores, ctx, pod(initContainers=[{"name": "i", "image": "x", "env": env}],
                                    **strict)) == (
        'pods "p" is forbidden: init container i with envVar E referencing '
        'secret.secretName="other" is not allowed because service account strict does not '
        'reference that secret')
    assert refused(stores, ctx, pod(containers=[{"name": "c", "image": "x", "envFrom": [
        {"secretRef": {"name": "other"}}]}], **strict)) == (
        'pods "p" is forbidden: container c with envFrom referencing secret.secretName="other" '
        'is not allowed because service account strict does not reference that secret')
    assert refused(stores, ctx, pod(imagePullSecrets=[{"name": "pull"}, {"name": "no"}],
                                    **strict)) == (
        'pods "p" is forbidden: imagePullSecrets[1].name="no" is not allowed because service '
        'account strict does not reference that imagePullSecret')


def test_ephemeral_containers_update(stores):
    plugin = stores.admission.plugins[0]
    env = [{"name": "E", "valueFrom": {"secretKeyRef": {"name": "other", "key": "k"}}}]
    new = {"metadata": {"name": "p", "namespace": "ns1"}, "spec": {
        "serviceAccountName": "strict", "containers": [{"name": "c", "image": "x"}],
        "ephemeralContainers": [{"name": "dbg", "image": "x", "env": env}]}}

    def attrs(obj):
        return Attributes(operation="UPDATE", group="", version="v1", kind="Pod",
                          resource="pods", subresource="ephemeralcontainers", namespace="ns1",
                          name="p", obj=obj, old=obj)
    plugin.admit(attrs(new))                    # nothing is mutated on update
    assert "volumeMounts" not in new["spec"]["ephemeralContainers"][0]
    with pytest.raises(errors.Forbidden) as exc:
        plugin.validate(attrs(new))
    assert exc.value.message == (
        'pods "p" is forbidden: ephemeral container dbg with envVar E referencing '
        'secret.secretName="other" is not allowed because service account strict does not '
        'reference that secret')
    new["spec"]["serviceAccountName"] = ""
    with pytest.raises(errors.Forbidden) as exc:
        plugin.validate(attrs(new))
    assert exc.value.message == 'pods "p" is forbidden: no service account specified for pod ns1/p'
    new["spec"]["serviceAccountName"] = "default"
    plugin.validate(attrs(new))                 # not enforced for that account


def test_over_http(db):
    ensure_revision_row()
    completed, app = in_process_app(admission_plugins=("ServiceAccount",))
    client = ASGIClient(app)
    assert client.post("/api/v1/namespaces", {"metadata": {"name": "web"}}).status_code == 201
    r = client.post("/api/v1/namespaces/web/pods", pod())
    assert r.status_code == 201, r.content
    assert r.json()["spec"]["volumes"][0]["projected"] == EXPECTED_SOURCE
    r = client.post("/api/v1/namespaces/web/pods", pod("q", serviceAccountName="nobody"))
    assert r.status_code == 403
    assert r.json()["message"] == ('pods "q" is forbidden: error looking up service account '
                                   'web/nobody: serviceaccount "nobody" not found')
    assert r.json()["details"] == {"name": "q", "kind": "pods"}


def test_with_every_default_plugin(db):
    """The server's default chain (no --enable/--disable flags) admits an ordinary pod and
    fills what kube-apiserver 1.32's defaults fill."""
    ensure_revision_row()
    completed, app = in_process_app(admission_plugins=None)
    assert {"ServiceAccount", "LimitRanger", "Priority", "RuntimeClass", "DefaultStorageClass",
            "DefaultIngressClass", "StorageObjectInUseProtection",
            "PersistentVolumeClaimResize"} <= set(completed.admission.names)
    client = ASGIClient(app)
    assert client.post("/api/v1/namespaces", {"metadata": {"name": "web"}}).status_code == 201
    r = client.post("/api/v1/namespaces/web/pods", pod())
    assert r.status_code == 201, r.content
    spec = r.json()["spec"]
    assert spec["serviceAccountName"] == "default" and spec["priority"] == 0
    assert spec["volumes"][0]["name"].startswith("kube-api-access-")
    r = client.post("/api/v1/namespaces/web/persistentvolumeclaims", {
        "metadata": {"name": "c"}, "spec": {"accessModes": ["ReadWriteOnce"],
                                            "resources": {"requests": {"storage": "1Gi"}}}})
    assert r.json()["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
