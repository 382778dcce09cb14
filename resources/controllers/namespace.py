"""The namespace controller: finishes deleting Terminating namespaces.

A DELETE of a namespace only marks it Terminating (the Store sets deletionTimestamp and the
Namespace strategy the phase) because its ``kubernetes`` finalizer holds it.  This controller
deletes everything in such a namespace, then removes the finalizer, and the Store removes the
namespace with that write (upstream kubernetes/kubernetes:pkg/controller/namespace/
namespace_controller.go and deletion/namespaced_resources_deleter.go).

It looks for Terminating namespaces when it starts (so a deletion cut short by a restart is
finished) and again after every local commit and once a second (writes from other server
processes), at most every ``MIN_INTERVAL`` seconds.
"""
from __future__ import annotations

import logging

import orjson

from apiserver.registry.context import system_context
from resources.controllers.base import POLL_SECONDS, PollingController
from apiserver.runtime import errors

from resources.core.namespaces import FINALIZER

log = logging.getLogger(__name__)

MANAGER = "namespace-controller"


class NamespaceController(PollingController):
    name = "namespace-controller"

    def __init__(self, stores, *, poll_seconds: float = POLL_SECONDS):
        self.stores = stores
        super().__init__(poll_seconds=poll_seconds)

    def terminating(self) -> list[str]:
        """Names of the namespaces marked for deletion whose finalizer is still there."""
        store = self.stores.store("", "v1", "namespaces")
        names = []
        for doc in store.list(None, field_selector="status.phase=Terminating")["items"]:
            obj = orjson.loads(doc)
            if FINALIZER in ((obj.get("spec") or {}).get("finalizers") or []):
                names.append(obj["metadata"]["name"])
        return names

    def finalize(self, name: str) -> None:
        """Delete every namespaced object in ``name``, then drop the ``kubernetes``
        finalizer (which removes the namespace when nothing else holds it)."""
        ctx = system_context(MANAGER, self.stores)
        for store in self.stores.all():
            if store.strategy.namespaced and store.strategy.stored:
                store.delete_collection(name, {"propagationPolicy": "Background"}, ctx)
        try:
            self.stores.store("", "v1", "namespaces").guaranteed_update(
                None, name, _drop_finalizer, ctx)
        except errors.NotFound:
            pass

    def sync(self) -> int:
        """One pass over every Terminating namespace; returns how many it finished."""
        done = 0
        for name in self.terminating():
            try:
                self.finalize(name)
                done += 1
            except errors.APIError as err:
                # a conflict or a refusal: the next pass tries again
                log.warning("namespace %s: not finalized yet (%s)", name, err.reason)
        return done


def _drop_finalizer(obj: dict) -> dict:
    spec = obj.setdefault("spec", {})
    spec["finalizers"] = [f for f in spec.get("finalizers", []) if f != FINALIZER]
    return obj


def start_namespace_controller(hook) -> None:
    """Post-start hook: the controller runs until the server stops."""
    store = hook.stores.store("", "v1", "namespaces")
    NamespaceController(hook.stores).start(hook.stop, storages=[store.storage])
