"""ResourceQuota admission: refusals with upstream's messages, usage raised on create, freed
by a recount after a delete, dryRun writes nothing, and two concurrent creates cannot both
take the last slot.

The quota controller is an API client of the controller manager
(workers/controllers/resourcequota.py); here ``recount`` stands in for its sync, using its
evaluators over the stored objects (its own tests drive it against a real server)."""
from __future__ import annotations

import threading
import time

import copy

import orjson
import pytest
from django.db import OperationalError, connection

from apiserver.runtime import errors
from tests.apiserver.storage.support import ensure_revision_row
from tests.conftest import build_server
from workers.controllers import resourcequota_evaluators as ev
from workers.controllers.resourcequota import new_status


def recount(stores, ctx):
    """What one controller sync writes for every quota: status.hard from spec, status.used
    counted over the namespace's stored objects."""
    quotas = stores.store("", "v1", "resourcequotas")
    status_ctx = copy.copy(ctx)
    status_ctx.subresource = "status"
    for doc in quotas.list(None)["items"]:
        quota = orjson.loads(doc)
        ns = quota["metadata"]["namespace"]

        def objects_of(resource, group, ns=ns):
            store = next((s for s in stores.all() if s.strategy.plural == resource
                          and s.strategy.group == group), None)
            return None if store is None else \
                [orjson.loads(d) for d in store.list(ns)["items"]]
        usage = ev.calculate_usage(quota, objects_of, 0.0)
        status = new_status(quota, usage)

        def transform(current, status=status):
            current["status"] = status
            return current
        quotas.guaranteed_update(ns, quota["metadata"]["name"], transform, status_ctx)


def setup(ctx, hard):
    ensure_revision_row()
    stores = build_server(admission_plugins=("ResourceQuota",))[0].stores
    quotas = stores.store("", "v1", "resourcequotas")
    quotas.create("default", {"metadata": {"name": "q"}, "spec": {"hard": hard}}, ctx)
    recount(stores, ctx)
    return stores, quotas


def pod(name, cpu=None):
    res = {"requests": {"cpu": cpu}} if cpu else {}
    return {"metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "busybox", "resources": res}]}}


def used(quotas):
    return orjson.loads(quotas.get("default", "q"))["status"]["used"]


def test_pods_are_refused_past_hard_and_a_delete_frees_a_slot(db, ctx):
    stores, quotas = setup(ctx, {"pods": "2", "requests.cpu": "1"})
    pods = stores.store("", "v1", "pods")
    pods.create("default", pod("a", "100m"), ctx)
    pods.create("default", pod("b", "100m"), ctx)
    assert used(quotas) == {"pods": "2", "requests.cpu": "200m"}
    with pytest.raises(errors.Forbidden) as err:
        pods.create("default", pod("c", "100m"), ctx)
    assert str(err.value.message) == ('pods "c" is forbidden: exceeded quota: q, requested: '
                                      'pods=1, used: pods=2, limited: pods=2')
    pods.delete("default", "a", {"gracePeriodSeconds": 0}, ctx)
    recount(stores, ctx)
    assert used(quotas)["pods"] == "1"
    pods.create("default", pod("c", "100m"), ctx)


def test_missing_request_is_refused(db, ctx):
    stores, _ = setup(ctx, {"requests.cpu": "1"})
    with pytest.raises(errors.Forbidden) as err:
        stores.store("", "v1", "pods").create("default", pod("x"), ctx)
    assert "failed quota: q: must specify requests.cpu for: c" in err.value.message


def test_dry_run_checks_without_writing(db, ctx):
    stores, quotas = setup(ctx, {"configmaps": "1"})
    ctx.dry_run = True
    stores.store("", "v1", "configmaps").create("default", {"metadata": {"name": "m"}}, ctx)
    assert used(quotas) == {"configmaps": "0"}


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_creates_cannot_both_take_the_last_slot(ctx):
    stores, quotas = setup(ctx, {"configmaps": "1"})
    cms = stores.store("", "v1", "configmaps")
    results = []

    def make(name):
        try:
            # the in-memory SQLite test database locks whole tables under shared cache
            # (not the server's WAL file): a locked table is retried, as a client would
            for _ in range(50):
                try:
                    cms.create("default", {"metadata": {"name": name}}, ctx)
                    results.append("ok")
                    return
                except errors.APIError as exc:
                    results.append(exc.code)
                    return
                except OperationalError as exc:
                    if "locked" not in str(exc):
                        raise
                    time.sleep(0.05)
        finally:
            connection.close()
    threads = [threading.Thread(target=make, args=(n,)) for n in ("m1", "m2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results, key=str) == sorted(["ok", 403], key=str) or \
        sorted(results, key=str) == sorted(["ok", 409], key=str)
    assert used(quotas) == {"configmaps": "1"}
