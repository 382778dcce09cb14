"""The resourcequota controller (resources/controllers/resourcequota.py): status.hard and
status.used from storage, count/<resource>.<group> for any kind, scoped quotas count only
the pods in scope, and an idle pass writes nothing."""
from __future__ import annotations

import orjson

from resources.controllers.resourcequota import ResourceQuotaController
from tests.apiserver.storage.support import ensure_revision_row
from tests.conftest import build_server


def test_status_is_computed_from_storage(db, ctx):
    ensure_revision_row()
    stores = build_server()[0].stores
    quotas = stores.store("", "v1", "resourcequotas")
    quotas.create("default", {"metadata": {"name": "all"}, "spec": {"hard": {
        "configmaps": "5", "count/deployments.apps": "3", "pods": "4"}}}, ctx)
    quotas.create("default", {"metadata": {"name": "be"}, "spec": {
        "hard": {"pods": "1"}, "scopes": ["BestEffort"]}}, ctx)
    stores.store("", "v1", "configmaps").create("default", {"metadata": {"name": "m"}}, ctx)
    stores.store("", "v1", "pods").create("default", {
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "x",
                                 "resources": {"requests": {"cpu": "1"}}}]}}, ctx)
    controller = ResourceQuotaController(stores)
    assert controller.sync() >= 1
    status = orjson.loads(quotas.get("default", "all"))["status"]
    assert status["hard"]["pods"] == "4"
    # configmaps counts kube-root-ca.crt if a controller made it; at least ours
    assert int(status["used"]["configmaps"]) >= 1
    assert status["used"]["count/deployments.apps"] == "0"
    assert status["used"]["pods"] == "1"
    assert orjson.loads(quotas.get("default", "be"))["status"]["used"] == {"pods": "0"}
    assert controller.sync() == 0          # nothing changed: nothing read or written
