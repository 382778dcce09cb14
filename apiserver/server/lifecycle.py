"""Start and stop one server process: build the config and the server chain, run the
post-start hooks, start the compactor, then serve until SIGTERM/SIGINT (uvicorn drains
in-flight requests, then exits).  ``--server-processes N`` is ``processes``' job, which
builds on the functions here.
"""
from __future__ import annotations

import gc
import logging
import threading
from pathlib import Path

from django.core.management import call_command
from django.db import close_old_connections

from apiserver.options import Options
from apiserver.server import serve as serving
from apiserver.server.chain import create_server_chain
from apiserver.server.config import Config
from apiserver.server.handler_chain import build_handler_chain
from apiserver.storage.watch_cache import POLL_SECONDS

log = logging.getLogger("apiserver")


def migrate() -> None:
    call_command("migrate", verbosity=0, interactive=False)


def build(options: Options, *, watch_poll_seconds: float = POLL_SECONDS):
    """(completed config, ASGI app) for one process: options → Config → CompletedConfig →
    server chain → filters."""
    config = Config.from_options(options)
    config.watch_poll_seconds = watch_poll_seconds
    completed = config.complete()
    head = create_server_chain(completed)
    return completed, build_handler_chain(head, completed)


def start_compactor(storages, interval: float, stop: threading.Event) -> threading.Thread:
    """Compact history older than ``interval`` every ``interval`` seconds (the default
    ``--etcd-compaction-interval`` is 5 minutes, as upstream)."""
    def loop():
        while not stop.wait(max(interval, 1.0)):
            for storage in storages:
                try:
                    storage.compact(interval)
                except Exception:  # keep compacting next time; a failure loses no data
                    log.exception("compaction failed")
                finally:
                    close_old_connections()
    thread = threading.Thread(target=loop, name="compactor", daemon=True)
    thread.start()
    return thread


def start_background(completed, stop: threading.Event) -> None:
    """What runs beside serving in the process that owns the database's upkeep: post-start
    hooks (bootstrap objects, in-process controllers) and the compactor."""
    completed.run_post_start_hooks(stop)
    close_old_connections()
    start_compactor(completed.storage_for.all(), completed.options.compaction_interval, stop)


def serve(options: Options, cert_file: str, key_file: str, client_ca_file: str,
          on_started=None) -> None:
    """Serve in this one process (``processes.start`` picks this or the supervisor)."""
    completed, app = build(options)
    stop = threading.Event()
    start_background(completed, stop)
    freeze_startup_heap()
    try:
        serving.run(app, options, cert_file, key_file, client_ca_file, on_started,
                    cacher=completed.cacher)
    finally:
        stop.set()


def freeze_startup_heap() -> None:
    """Everything allocated by now (Django, definitions, the Scheme) lives for the process:
    move it out of the collector's sight and collect the young generation less often.  Full
    collections over that heap paused the event loop for up to ~100 ms under watch fan-out
    (bench/watch_bench.py)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)


def data_dir(path: str) -> Path:
    p = Path(path).resolve()
    p.mkdir(parents=True, exist_ok=True)
    return p
