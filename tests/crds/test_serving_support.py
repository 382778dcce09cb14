"""Shared CustomResourceDefinition fixtures for the serving tests: definitions are written
straight into storage (as the CRD kind and its controllers would leave them, Established),
then the custom resources are driven over in-process HTTP."""
from __future__ import annotations

import copy

from crds.serving import CRD_RESOURCE

GROUP = "stable.example.com"
CRONTABS = f"/apis/{GROUP}/v1/namespaces/default/crontabs"

SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {"type": "object", "properties": {
            "cronSpec": {"type": "string"}, "image": {"type": "string"},
            "color": {"type": "string"}, "replicas": {"type": "integer"}}},
        "status": {"type": "object", "properties": {
            "replicas": {"type": "integer"}, "labelSelector": {"type": "string"}}},
    },
}

CRONTAB_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"crontabs.{GROUP}"},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {"plural": "crontabs", "singular": "crontab", "kind": "CronTab",
                  "listKind": "CronTabList", "shortNames": ["ct"], "categories": ["all"]},
        "versions": [
            {"name": "v1", "served": True, "storage": True,
             "schema": {"openAPIV3Schema": SCHEMA},
             "subresources": {"status": {}, "scale": {
                 "specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas",
                 "labelSelectorPath": ".status.labelSelector"}},
             "additionalPrinterColumns": [
                 {"name": "Spec", "type": "string", "jsonPath": ".spec.cronSpec"},
                 {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
                 {"name": "Image", "type": "string", "jsonPath": ".spec.image", "priority": 1},
                 {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}],
             "selectableFields": [{"jsonPath": ".spec.color"}]},
            {"name": "v1beta1", "served": True, "storage": False,
             "schema": {"openAPIV3Schema": SCHEMA}},
        ],
        "conversion": {"strategy": "None"},
    },
    "status": {
        "conditions": [{"type": "NamesAccepted", "status": "True", "reason": "NoConflicts"},
                       {"type": "Established", "status": "True", "reason": "InitialNamesAccepted"}],
        "acceptedNames": {"plural": "crontabs", "singular": "crontab", "kind": "CronTab",
                          "listKind": "CronTabList", "shortNames": ["ct"],
                          "categories": ["all"]},
        "storedVersions": ["v1"],
    },
}


def crd(**changes) -> dict:
    obj = copy.deepcopy(CRONTAB_CRD)
    obj.update(changes)
    return obj


def create_crd(storage, obj: dict | None = None) -> tuple[int, str]:
    obj = copy.deepcopy(obj or CRONTAB_CRD)
    obj["metadata"].setdefault("uid", "0b5d6c9e-0000-4000-8000-000000000001")
    obj["metadata"].setdefault("creationTimestamp", "2026-01-01T00:00:00Z")
    return storage.create(CRD_RESOURCE, "", obj["metadata"]["name"], obj)


def crontab(name: str, **spec) -> dict:
    return {"apiVersion": f"{GROUP}/v1", "kind": "CronTab",
            "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"cronSpec": "* * * * */5", "image": "my-image", "replicas": 1, **spec}}


def serving_world(**config):
    """(completed config, head of the chain, in-process client) over the test database."""
    from apiserver.server.handler_chain import build_handler_chain
    from tests.asgi import ASGIClient, InlineExecutor
    from tests.conftest import build_server

    config.setdefault("request_executor", InlineExecutor())
    completed, head = build_server(**config)
    return completed, head, ASGIClient(build_handler_chain(head, completed))


def source_of(head):
    """The custom resource source of the chain's APIExtensionsServer."""
    for server in head.servers():
        for source in server.sources:
            if source.name == "crd-serving":
                return source
    raise AssertionError("no custom resource source in the chain")
