"""Shared informers: one list+watch per kind for every controller of the process, as
client-go's ``SharedInformerFactory`` (tools/cache/shared_informer.go).

``SharedInformers(client).informer("/api/v1/pods")`` returns the same running Informer to
every controller that asks; ``add_handler(path, fn)`` subscribes ``fn(event, obj, old)`` to
its changes (called in registration order, after the informer's cache is updated).
"""
from __future__ import annotations

import inspect
import logging

from apiserver.client import Informer

log = logging.getLogger(__name__)


class SharedInformers:
    def __init__(self, client, *, transport: str = "websocket"):
        self.client = client
        self.transport = transport
        self._informers: dict[str, Informer] = {}
        self._handlers: dict[str, list] = {}

    def informer(self, path: str) -> Informer:
        if path not in self._informers:
            self._handlers[path] = []
            self._informers[path] = Informer(self.client, path, handler=self._fan_out(path),
                                             transport=self.transport, name=path)
        return self._informers[path]

    def add_handler(self, path: str, fn) -> Informer:
        inf = self.informer(path)
        self._handlers[path].append(fn)
        return inf

    def _fan_out(self, path: str):
        async def deliver(event, obj, old):
            for fn in self._handlers[path]:
                try:
                    result = fn(event, obj, old)
                    if inspect.isawaitable(result):
                        await result
                except Exception:            # one controller's bug must not stop the others
                    log.exception("handler of %s failed", path)
        return deliver

    def start(self) -> None:
        for inf in self._informers.values():
            inf.start()

    async def wait_synced(self, timeout: float | None = None) -> None:
        for inf in self._informers.values():
            await inf.wait_synced(timeout)

    async def close(self) -> None:
        for inf in self._informers.values():
            await inf.close()
