"""The resourcequota controller (upstream pkg/controller/resourcequota/
resource_quota_controller.go): status.hard = spec.hard and status.used recomputed from
storage for every quota, after changes to quotas or the kinds they count (deletes free
usage) and on a full resync period."""
from __future__ import annotations

import logging
import time
from fractions import Fraction

import orjson

from apiserver.registry.context import system_context
from apiserver.runtime import errors
from apiserver.storage.base import Compacted
from resources.admission.resource_quota import _text
from resources.controllers.base import POLL_SECONDS, PollingController
from resources.quota import evaluators

log = logging.getLogger(__name__)

MANAGER = "resourcequota-controller"
RESYNC_SECONDS = 300.0
TRACKED = ("resourcequotas", "pods", "services", "persistentvolumeclaims", "configmaps",
           "secrets", "replicationcontrollers")


def compute_used(quota: dict, objects_by_store: list) -> dict:
    """status.used for ``quota``: the sum over covered objects, only for names in hard."""
    hard = (quota.get("spec") or {}).get("hard") or {}
    total = {k: Fraction(0) for k in hard}
    for (resource, group), objects in objects_by_store:
        for obj in objects:
            if not evaluators.quota_matches(quota, resource, group, obj):
                continue
            for k, v in evaluators.usage(resource, group, obj).items():
                if k in total:
                    total[k] += v
    return {k: _text(v, hard.get(k)) for k, v in total.items()}


class ResourceQuotaController(PollingController):
    name = "resourcequota-controller"

    def __init__(self, stores, *, poll_seconds: float = POLL_SECONDS,
                 resync_seconds: float = RESYNC_SECONDS):
        self.stores = stores
        self.quotas = stores.store("", "v1", "resourcequotas")
        self.cursor = None
        self.resync_seconds = resync_seconds
        self.last_full = 0.0
        super().__init__(poll_seconds=poll_seconds)

    def _unchanged(self) -> bool:
        if self.cursor is None or time.monotonic() - self.last_full > self.resync_seconds:
            return False
        try:
            return not any(self.quotas.storage.changes_after(self.cursor, 1, resource=r)
                           for r in TRACKED)
        except Compacted:
            return False

    def _objects(self, namespace: str, hard: dict) -> list:
        wanted = set()
        for name in hard:
            if name.startswith("count/"):
                res, _, group = name[len("count/"):].partition(".")
                wanted.add((res, group))
            elif name.startswith(("services", )):
                wanted.add(("services", ""))
            elif "storage" in name and not name.endswith("ephemeral-storage") or \
                    name == "persistentvolumeclaims" or name.endswith("/persistentvolumeclaims"):
                wanted.add(("persistentvolumeclaims", ""))
            elif name in evaluators.CORE_COUNTS:
                wanted.add((name, ""))
            else:
                wanted.add(("pods", ""))
        out = []
        for res, group in sorted(wanted):
            store = next((s for s in self.stores.all()
                          if s.strategy.plural == res and s.strategy.group == group), None)
            if store is None or not store.strategy.namespaced:
                continue
            out.append(((res, group), [orjson.loads(d) for d in store.list(namespace)["items"]]))
        return out

    def sync(self) -> int:
        if self._unchanged():
            return 0
        cursor = self.quotas.storage.current_revision()
        if self.cursor is None or time.monotonic() - self.last_full > self.resync_seconds:
            self.last_full = time.monotonic()
        ctx = system_context(MANAGER, self.stores)
        ctx.subresource = "status"
        done = 0
        for doc in self.quotas.list(None)["items"]:
            quota = orjson.loads(doc)
            meta = quota["metadata"]
            hard = (quota.get("spec") or {}).get("hard") or {}
            used = compute_used(quota, self._objects(meta["namespace"], hard))
            status = quota.get("status") or {}
            if status.get("hard") == hard and status.get("used") == used:
                continue

            def transform(current, hard=hard, used=used):
                current["status"] = {"hard": dict(hard), "used": used}
                return current
            try:
                self.quotas.guaranteed_update(meta["namespace"], meta["name"], transform, ctx)
                done += 1
            except errors.APIError as err:      # the next pass tries again
                log.warning("resourcequota %s: status not updated (%s)", meta["name"],
                            err.reason)
        self.cursor = cursor
        return done


def start_resourcequota_controller(hook) -> None:
    """Post-start hook: keep every quota's status current until the server stops."""
    controller = ResourceQuotaController(hook.stores)
    controller.start(hook.stop, storages=[controller.quotas.storage])
