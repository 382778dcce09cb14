"""What every in-process controller shares: a thread that runs ``sync()`` once at start
(finding its work in storage, so a restart loses nothing), again after every local commit
to the storages it watches, and at least every ``poll_seconds`` (writes from other server
processes), at most every ``MIN_INTERVAL`` seconds; until the server's stop event is set.
Its database connection is given back when the thread ends."""
from __future__ import annotations

import logging
import threading

from django.db import close_old_connections, connection

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
MIN_INTERVAL = 0.2


class PollingController:
    name = "controller"          # the thread's name and the log's

    def __init__(self, *, poll_seconds: float = POLL_SECONDS):
        self.poll_seconds = poll_seconds
        self.wake = threading.Event()

    def sync(self) -> int:
        """One pass over the work found in storage; returns how much it did."""
        raise NotImplementedError

    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    self.sync()
                except Exception as exc:   # the next pass tries again; never die silently
                    log.error("%s: %s", self.name, type(exc).__name__)
                finally:
                    close_old_connections()
                self.wake.wait(self.poll_seconds)
                self.wake.clear()
                stop.wait(MIN_INTERVAL)
        finally:
            connection.close()             # this thread ends: give its connection back

    def _on_commit(self, rv: int) -> None:        # any thread; must not block
        self.wake.set()

    def start(self, stop: threading.Event, storages=()) -> threading.Thread:
        """Run in a daemon thread until ``stop``; local commits to ``storages`` wake it."""
        for storage in storages:
            storage.listeners.append(self._on_commit)
        thread = threading.Thread(target=self.run, args=(stop,), name=self.name, daemon=True)
        thread.start()
        return thread
