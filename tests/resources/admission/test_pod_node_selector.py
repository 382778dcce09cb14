"""PodNodeSelector: a pod gets its namespace's node selector (annotation, else the cluster
default of podNodeSelectorPluginConfig), conflicts and selectors outside the namespace's
whitelist are refused with upstream's messages; the legacy whole-file configuration works."""
from __future__ import annotations

import dataclasses

import orjson
import pytest

from apiserver.options import Options
from apiserver.registry.context import system_context
from apiserver.runtime import errors
from resources.admission.pod_node_selector import ANNOTATION, selector_to_labels
from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import ASGIClient, in_process_app
from tests.conftest import build_server

CONFIG = """\
apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: PodNodeSelector
  path: podnodeselector.yaml
"""
PLUGIN_CONFIG = """\
podNodeSelectorPluginConfig:
  clusterDefaultNodeSelector: "env=dev"
  restricted: "env=prod,zone=a"
"""


def server_with(tmp_path, main=CONFIG, plugin=PLUGIN_CONFIG):
    (tmp_path / "admission.yaml").write_text(main)
    (tmp_path / "podnodeselector.yaml").write_text(plugin)
    options = dataclasses.replace(Options(),
                                  admission_control_config_file=str(tmp_path / "admission.yaml"))
    return build_server(admission_plugins=("PodNodeSelector",), options=options)[0].stores


@pytest.fixture
def stores(db, tmp_path):
    ensure_revision_row()
    return server_with(tmp_path)


def namespace(stores, name, selector=None):
    meta = {"name": name}
    if selector is not None:
        meta["annotations"] = {ANNOTATION: selector}
    stores.store("", "v1", "namespaces").create(None, {"metadata": meta}, system_context("t"))


def pod(name="p", **selector):
    spec = {"containers": [{"name": "c", "image": "busybox"}]}
    if selector:
        spec["nodeSelector"] = selector
    return {"metadata": {"name": name}, "spec": spec}


def create(stores, ctx, ns, obj) -> dict:
    return orjson.loads(stores.store("", "v1", "pods").create(ns, obj, ctx))


def refused(stores, ctx, ns, obj) -> errors.APIError:
    with pytest.raises(errors.APIError) as exc:
        create(stores, ctx, ns, obj)
    return exc.value


def test_namespace_annotation_is_merged(stores, ctx):
    namespace(stores, "team", "disk=ssd, gpu=yes")
    made = create(stores, ctx, "team", pod(region="eu"))
    assert made["spec"]["nodeSelector"] == {"disk": "ssd", "gpu": "yes", "region": "eu"}
    # agreeing with the namespace is fine
    assert create(stores, ctx, "team", pod("q", disk="ssd"))["spec"]["nodeSelector"] == \
        {"disk": "ssd", "gpu": "yes"}


def test_conflict_is_refused(stores, ctx):
    namespace(stores, "team", "disk=ssd")
    err = refused(stores, ctx, "team", pod(disk="hdd"))
    assert (err.code, err.reason) == (403, "Forbidden")
    assert err.message == ('pods "p" is forbidden: pod node label selector conflicts with its '
                           'namespace node label selector')


def test_cluster_default_applies_without_annotation(stores, ctx):
    namespace(stores, "plain")
    assert create(stores, ctx, "plain", pod())["spec"]["nodeSelector"] == {"env": "dev"}
    # an empty annotation opts out of the cluster default
    namespace(stores, "free", "")
    assert "nodeSelector" not in create(stores, ctx, "free", pod())["spec"]
    assert refused(stores, ctx, "plain", pod("x", env="prod")).code == 403


def test_whitelist(stores, ctx):
    namespace(stores, "restricted", "env=prod")
    assert create(stores, ctx, "restricted", pod(zone="a"))["spec"]["nodeSelector"] == \
        {"env": "prod", "zone": "a"}
    err = refused(stores, ctx, "restricted", pod("q", zone="b"))
    assert err.message == ('pods "q" is forbidden: pod node label selector labels conflict '
                           'with its namespace whitelist')


def test_updates_and_subresources_are_left_alone(stores, ctx):
    namespace(stores, "team", "disk=ssd")
    made = create(stores, ctx, "team", pod())
    made["spec"]["nodeSelector"] = {"disk": "ssd"}
    made["metadata"]["labels"] = {"a": "b"}
    stores.store("", "v1", "pods").update("team", "p", made, ctx)


def test_bad_selector_text_is_a_plain_error(stores, ctx):
    namespace(stores, "broken", "novalue")
    err = refused(stores, ctx, "broken", pod())
    assert (err.code, err.reason) == (500, "")
    assert err.message == "invalid selector: [novalue]"
    with pytest.raises(errors.APIError):
        selector_to_labels("bad key!=x")


def test_legacy_whole_file_configuration(db, tmp_path, ctx):
    ensure_revision_row()
    stores = server_with(tmp_path, main=PLUGIN_CONFIG)
    namespace(stores, "plain")
    assert create(stores, ctx, "plain", pod())["spec"]["nodeSelector"] == {"env": "dev"}


def test_without_configuration_nothing_is_added(db, ctx):
    ensure_revision_row()
    _, app = in_process_app(admission_plugins=("PodNodeSelector",))
    client = ASGIClient(app)
    client.post("/api/v1/namespaces", {"metadata": {"name": "web",
                                                    "annotations": {ANNOTATION: "disk=ssd"}}})
    client.post("/api/v1/namespaces", {"metadata": {"name": "plain"}})
    r = client.post("/api/v1/namespaces/plain/pods", pod())
    assert r.status_code == 201 and "nodeSelector" not in r.json()["spec"]
    r = client.post("/api/v1/namespaces/web/pods", pod(disk="hdd"))
    assert r.status_code == 403
    assert r.json()["message"] == ('pods "p" is forbidden: pod node label selector conflicts '
                                   'with its namespace node label selector')
    assert r.json()["details"] == {"name": "p", "kind": "pods"}
