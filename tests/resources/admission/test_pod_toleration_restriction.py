"""PodTolerationRestriction: namespace (else cluster) default tolerations merged into new
pods, the memory-pressure toleration for pods that are not BestEffort, and the whitelist
check on create and update with upstream's message; its Configuration is validated."""
from __future__ import annotations

import dataclasses
import json

import orjson
import pytest

from apiserver.options import Options
from apiserver.registry.context import system_context
from apiserver.runtime import errors
from resources.admission.pod_toleration_restriction import (DEFAULTS, WHITELIST,
                                                            PodTolerationRestriction,
                                                            merge_tolerations,
                                                            verify_against_whitelist)
from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import ASGIClient, in_process_app
from tests.conftest import build_server

API = "podtolerationrestriction.admission.k8s.io/v1alpha1"
MEMORY = {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists",
          "effect": "NoSchedule"}
GPU = {"key": "gpu", "operator": "Equal", "value": "yes", "effect": "NoSchedule"}
DISK = {"key": "disk", "operator": "Exists", "effect": "NoSchedule"}


def build(tmp_path=None, default=None, whitelist=None):
    options = Options()
    if tmp_path is not None:
        doc = {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "AdmissionConfiguration",
               "plugins": [{"name": "PodTolerationRestriction", "configuration": {
                   "apiVersion": API, "kind": "Configuration",
                   "default": default or [], "whitelist": whitelist or []}}]}
        (tmp_path / "admission.json").write_text(json.dumps(doc))
        options = dataclasses.replace(
            options, admission_control_config_file=str(tmp_path / "admission.json"))
    return build_server(admission_plugins=("PodTolerationRestriction",), options=options)[0].stores


@pytest.fixture
def stores(db):
    ensure_revision_row()
    return build()


def namespace(stores, name, **annotations):
    meta = {"name": name}
    names = {"defaults": DEFAULTS, "whitelist": WHITELIST}
    if annotations:
        meta["annotations"] = {names[k]: v if isinstance(v, str) else json.dumps(v)
                               for k, v in annotations.items()}
    stores.store("", "v1", "namespaces").create(None, {"metadata": meta}, system_context("t"))


def pod(name="p", tolerations=None, resources=None):
    container = {"name": "c", "image": "busybox"}
    if resources:
        container["resources"] = resources
    spec = {"containers": [container]}
    if tolerations is not None:
        spec["tolerations"] = tolerations
    return {"metadata": {"name": name}, "spec": spec}


def create(stores, ctx, ns, obj) -> dict:
    return orjson.loads(stores.store("", "v1", "pods").create(ns, obj, ctx))


def tolerations_of(made) -> list:
    return made["spec"].get("tolerations") or []


def test_namespace_defaults_are_merged_on_create(stores, ctx):
    namespace(stores, "gpu", defaults=[GPU])
    assert tolerations_of(create(stores, ctx, "gpu", pod())) == [GPU]
    # the pod's own come first; one the pod already covers is not added again
    made = create(stores, ctx, "gpu", pod("q", [{"key": "gpu", "operator": "Exists"}, DISK]))
    assert tolerations_of(made) == [{"key": "gpu", "operator": "Exists"}, DISK]


def test_memory_pressure_toleration_for_burstable_pods(stores, ctx):
    namespace(stores, "plain")
    burstable = pod(resources={"requests": {"cpu": "100m"}})
    assert tolerations_of(create(stores, ctx, "plain", burstable)) == [MEMORY]
    assert tolerations_of(create(stores, ctx, "plain", pod("best"))) == []


def test_whitelist_refuses_with_upstream_message(stores, ctx):
    namespace(stores, "locked", whitelist=[GPU, {"key": "disk", "operator": "Exists"}])
    assert tolerations_of(create(stores, ctx, "locked", pod(tolerations=[DISK]))) == [DISK]
    with pytest.raises(errors.APIError) as exc:
        create(stores, ctx, "locked", pod("q", [{"key": "other", "operator": "Exists"}]))
    assert (exc.value.code, exc.value.reason) == (500, "")
    assert exc.value.message == ("pod tolerations (possibly merged with namespace default "
                                 "tolerations) conflict with its namespace whitelist")
    # defaults outside the whitelist are refused too
    namespace(stores, "odd", defaults=[GPU], whitelist=[DISK])
    with pytest.raises(errors.APIError):
        create(stores, ctx, "odd", pod())


def test_update_is_checked_against_the_whitelist(stores, ctx):
    namespace(stores, "locked", whitelist=[DISK])
    made = create(stores, ctx, "locked", pod())
    made["spec"]["tolerations"] = [GPU]
    with pytest.raises(errors.APIError) as exc:
        stores.store("", "v1", "pods").update("locked", "p", made, ctx)
    assert "conflict with its namespace whitelist" in exc.value.message


def test_cluster_configuration(db, tmp_path, ctx):
    ensure_revision_row()
    stores = build(tmp_path, default=[DISK], whitelist=[DISK, GPU])
    namespace(stores, "plain")
    assert tolerations_of(create(stores, ctx, "plain", pod())) == [DISK]
    with pytest.raises(errors.APIError) as exc:
        create(stores, ctx, "plain", pod("q", [{"key": "x", "operator": "Exists"}]))
    assert exc.value.message.endswith("conflict with its cluster whitelist")
    # a namespace's own (even empty) annotations replace the cluster's lists
    namespace(stores, "own", defaults="", whitelist=[{"operator": "Exists"}])
    made = create(stores, ctx, "own", pod("r", [{"key": "x", "operator": "Exists"}]))
    assert tolerations_of(made) == [{"key": "x", "operator": "Exists"}]


def test_bad_annotation_is_a_plain_error(stores, ctx):
    namespace(stores, "broken", defaults="not json")
    with pytest.raises(errors.APIError) as exc:
        create(stores, ctx, "broken", pod())
    assert exc.value.code == 500


def test_configuration_is_validated():
    plugin = PodTolerationRestriction()
    plugin.configure(None)
    with pytest.raises(ValueError) as exc:
        plugin.configure({"apiVersion": API, "kind": "Configuration",
                          "default": [{"key": "a", "operator": "Sometimes"}]})
    assert str(exc.value).startswith(
        'invalid config: [podtolerationrestriction.default[0].operator: Unsupported value: '
        '"Sometimes"')
    with pytest.raises(ValueError):
        plugin.configure({"apiVersion": "v1", "kind": "Configuration"})


def test_merge_and_whitelist_helpers():
    short = {"key": "n", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 10}
    long = {"key": "n", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60}
    assert merge_tolerations([short], [long]) == [long]
    assert merge_tolerations([GPU, GPU], []) == [GPU]
    assert merge_tolerations([{"operator": "Exists"}], [GPU]) == [{"operator": "Exists"}]
    assert verify_against_whitelist([short], [long])
    assert not verify_against_whitelist([long], [short])
    assert verify_against_whitelist([GPU], [])


def test_over_http(db):
    ensure_revision_row()
    _, app = in_process_app(admission_plugins=("PodTolerationRestriction",))
    client = ASGIClient(app)
    client.post("/api/v1/namespaces", {"metadata": {"name": "web", "annotations": {
        WHITELIST: json.dumps([DISK])}}})
    r = client.post("/api/v1/namespaces/web/pods", pod(tolerations=[GPU]))
    assert r.status_code == 500
    assert r.json()["message"] == ("pod tolerations (possibly merged with namespace default "
                                   "tolerations) conflict with its namespace whitelist")
    assert "reason" not in r.json()
