"""The namespace controller (upstream pkg/controller/namespace/namespace_controller.go,
release-1.32): finishes the deletion of Terminating namespaces.

A DELETE of a namespace only marks it (deletionTimestamp, phase Terminating): its
``kubernetes`` finalizer keeps it.  This controller, an API client like every controller of
the manager, deletes the namespace's content of every kind and then removes that finalizer
(``namespace_deleter``).  Without a controller manager a deleted namespace stays
Terminating, as upstream without kube-controller-manager.

Keys are namespace names.  A namespace is queued when the informer sees it with a
deletionTimestamp (so its first list after a restart picks up a deletion cut short), after
``grace_period`` seconds as upstream's ``namespaceDeletionGracePeriod``: time for a create
that passed admission just before the deletion to land, so this pass deletes it too.  Every
``resync_period`` (upstream ``--namespace-sync-period``, 5 min) all of them are queued again.
While content remains a namespace comes back after ``estimate / 2 + 1`` seconds; a failure is
retried with back-off (5 ms doubling to 60 s, upstream's ``nsControllerRateLimiter``) for as
long as it lasts: unlike the other controllers', a namespace is never dropped.
"""
from __future__ import annotations

import asyncio
import logging

from apiserver.client import ApiError

from .base import Controller
from .namespace_deleter import DeletionFailed, NamespacedResourcesDeleter, ResourcesRemaining
from .workqueue import WorkQueue

log = logging.getLogger(__name__)

NAMESPACES = "/api/v1/namespaces"
DELETION_GRACE_PERIOD = 5.0       # upstream namespaceDeletionGracePeriod
RESYNC_PERIOD = 300.0             # upstream --namespace-sync-period default
MAX_RETRY_DELAY = 60.0            # upstream nsControllerRateLimiter: at least once a minute
# failures of the API or of a pass, logged in one line (anything else is a bug: traceback)
EXPECTED = (ApiError, DeletionFailed, OSError, asyncio.TimeoutError, RuntimeError)


class NamespaceController(Controller):
    """See the module docstring."""

    name = "namespace"
    workers = 10                  # upstream --concurrent-namespace-syncs default

    def __init__(self, client, informers, recorder=None, *,
                 grace_period: float = DELETION_GRACE_PERIOD,
                 resync_period: float = RESYNC_PERIOD, ordered: bool = False, deleter=None):
        super().__init__()
        self.queue = WorkQueue(self.name, max_delay=MAX_RETRY_DELAY)
        self.client = client
        self.grace_period, self.resync_period = grace_period, resync_period
        self.deleter = deleter or NamespacedResourcesDeleter(client, ordered=ordered)
        self.namespaces = informers.add_handler(NAMESPACES, self._on_namespace)

    def _on_namespace(self, event, ns, old):
        """``enqueueNamespace``: only namespaces being deleted, and not at once."""
        if event == "DELETED" or not ns["metadata"].get("deletionTimestamp"):
            return
        self.queue.add_after(ns["metadata"]["name"], self.grace_period)

    def start(self) -> None:
        super().start()
        self._tasks.append(asyncio.create_task(self._resync(), name=f"{self.name}-resync"))

    async def _resync(self) -> None:
        while True:
            await asyncio.sleep(self.resync_period)
            for ns in list(self.namespaces.cache.values()):
                self._on_namespace("MODIFIED", ns, ns)

    async def sync(self, key: str) -> None:
        """``syncNamespaceFromKey``: one deletion pass for namespace ``key``; raises
        ``ResourcesRemaining`` while content is left, another error when a step failed."""
        if self.namespaces.get(key) is None:
            return
        await self.deleter.delete(key)

    def handle_sync_error(self, key: str, exc: Exception) -> None:
        """Upstream's namespace ``worker``: remaining content brings the key back after half
        the estimate; any other failure re-adds it rate-limited (never dropped)."""
        if isinstance(exc, ResourcesRemaining):
            wait = exc.estimate // 2 + 1
            log.debug("namespace %s: content remaining, waiting %d seconds", key, wait)
            self.queue.add_after(key, wait)
            return
        if isinstance(exc, EXPECTED):
            log.info("deletion of namespace %s failed: %s", key, exc)
        else:
            log.error("deletion of namespace %s failed", key, exc_info=exc)
        self.queue.add_rate_limited(key)
