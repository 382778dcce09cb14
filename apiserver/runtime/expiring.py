"""A bounded cache whose entries expire one by one (upstream k8s.io/apiserver
pkg/util/cache ``LRUExpireCache``), shared by the webhook callers that cache answers for a
TTL: the token cache, the Webhook authorizer and the ImagePolicyWebhook admission plugin.

``get`` returns the live value (and makes it the most recently used) or None; ``add`` with a
TTL of zero or less stores nothing; past ``size`` entries the least recently used goes.
Thread-safe.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict


class ExpiringLRU:
    def __init__(self, size: int, clock=time.monotonic):
        self.size = size
        self.clock = clock
        self._entries: OrderedDict = OrderedDict()      # key → (expires, value)
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= self.clock():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def add(self, key, value, ttl: float) -> None:
        if ttl <= 0:
            return
        with self._lock:
            self._entries[key] = (self.clock() + ttl, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __iter__(self):
        """The keys held now (expired ones included until they are read)."""
        with self._lock:
            return iter(list(self._entries))
