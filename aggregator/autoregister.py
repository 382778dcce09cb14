"""Local APIServices for every group/version this server serves (upstream's
``kube-apiserver-autoregistration`` post-start hook: the autoregister controller, fed by the
delegate's listed paths and by the CRD registration controller).

Upstream: kubernetes/kubernetes:staging/src/k8s.io/kube-aggregator/pkg/controllers/
autoregister/autoregister_controller.go — a managed APIService carries the label
``kube-aggregator.kubernetes.io/automanaged``: ``onstart`` for built-in group/versions
(reconciled when the server starts), ``true`` for custom resources' (kept while their CRD
serves them); a managed APIService nobody wants any more is deleted, one whose spec drifted is
put back; unmanaged ones are never touched.  Local APIServices are Available (reason
``Local``), as the availability controller says of them
(pkg/controllers/status/local_available_controller.go).

The served group/versions are read from the Store registry on every pass, so custom resources
installed while the server runs get theirs too.  Runs in the server process like the other
in-process controllers.
"""
from __future__ import annotations

import logging

import orjson

from apiserver.registry.context import system_context
from apiserver.registry.meta import now_rfc3339
from apiserver.runtime import errors
from resources.controllers.base import POLL_SECONDS, PollingController

from .apiservices import AUTOMANAGED, GROUP, available
from .priorities import BUILT_IN, CUSTOM, apiservice_name

log = logging.getLogger(__name__)

MANAGER = "kube-apiserver-autoregistration"
LOCAL_MESSAGE = "Local APIServices are always available"


def desired(stores) -> dict:
    """name → APIService the served group/versions call for."""
    out = {}
    for store in stores.all():
        s = store.strategy
        key = (s.group, s.version)
        name = apiservice_name(*key)
        if name in out:
            continue
        built_in = key in BUILT_IN
        gpm, vp = BUILT_IN.get(key, CUSTOM)
        out[name] = {
            "apiVersion": f"{GROUP}/v1", "kind": "APIService",
            "metadata": {"name": name,
                         "labels": {AUTOMANAGED: "onstart" if built_in else "true"}},
            "spec": {"group": s.group, "version": s.version, "groupPriorityMinimum": gpm,
                     "versionPriority": vp}}
    return out


def _spec_drifted(current: dict, want: dict) -> bool:
    have = current.get("spec") or {}
    return any(have.get(k) != v for k, v in want["spec"].items()) or have.get("service")


class AutoRegisterController(PollingController):
    name = "apiservice-autoregistration"

    def __init__(self, stores, *, poll_seconds: float = POLL_SECONDS):
        self.stores = stores
        self.store = stores.store(GROUP, "v1", "apiservices")
        super().__init__(poll_seconds=poll_seconds)

    def sync(self) -> int:
        """Create, repair or delete managed APIServices; mark local ones Available."""
        ctx = system_context(MANAGER, self.stores)
        want = desired(self.stores)
        existing = {o["metadata"]["name"]: o for o in
                    (orjson.loads(d) for d in self.store.list(None)["items"])}
        done = 0
        for name, obj in want.items():
            current = existing.get(name)
            try:
                if current is None:
                    self.store.create(None, obj, ctx)
                    done += 1
                elif AUTOMANAGED in ((current["metadata"].get("labels")) or {}) and \
                        _spec_drifted(current, obj):
                    self.store.guaranteed_update(None, name, lambda c, o=obj: _respec(c, o), ctx)
                    done += 1
            except (errors.AlreadyExists, errors.NotFound, errors.Conflict):
                continue
        for name, current in existing.items():
            if name not in want and AUTOMANAGED in (current["metadata"].get("labels") or {}):
                try:
                    self.store.delete(None, name, {}, ctx)
                    done += 1
                except errors.NotFound:
                    pass
        done += self._mark_local_available(ctx)
        return done

    def _mark_local_available(self, ctx) -> int:
        done = 0
        status_ctx = ctx.for_subresource("status")
        for doc in self.store.list(None)["items"]:
            obj = orjson.loads(doc)
            if (obj.get("spec") or {}).get("service"):
                continue           # service-backed: the availability controller's (issue 14)
            cond = available(obj)
            if cond is not None and cond.get("status") == "True" and cond.get("reason") == "Local":
                continue
            try:
                self.store.guaranteed_update(None, obj["metadata"]["name"], _local_available,
                                             status_ctx)
                done += 1
            except errors.NotFound:
                pass
        return done


def _respec(current: dict, want: dict) -> dict:
    current["spec"] = dict(want["spec"])
    return current


def _local_available(current: dict) -> dict:
    status = current.setdefault("status", {})
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != "Available"]
    conditions.append({"type": "Available", "status": "True", "reason": "Local",
                       "message": LOCAL_MESSAGE, "lastTransitionTime": now_rfc3339()})
    status["conditions"] = conditions
    return current


def start_autoregistration(hook) -> None:
    """Post-start hook: register now, then follow until the server stops."""
    controller = AutoRegisterController(hook.stores)
    try:
        controller.sync()
    except errors.APIError as exc:
        log.error("apiservice autoregistration: %s", exc)
    controller.start(hook.stop, storages=[controller.store.storage])
