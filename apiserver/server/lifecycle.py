"""Start and stop: migrate, PKI, post-start hooks, the compactor, then serve until
SIGTERM/SIGINT (uvicorn drains in-flight requests, then exits)."""
from __future__ import annotations

import gc
import logging
import threading
from pathlib import Path

from django.core.management import call_command
from django.db import close_old_connections

from apiserver.options import Options

log = logging.getLogger("apiserver")


def migrate() -> None:
    call_command("migrate", verbosity=0, interactive=False)


def start_compactor(storage, interval: float, stop: threading.Event) -> threading.Thread:
    """Compact history older than ``interval`` every ``interval`` seconds (the default
    ``--etcd-compaction-interval`` is 5 minutes, as upstream)."""
    def loop():
        while not stop.wait(max(interval, 1.0)):
            try:
                storage.compact(interval)
            except Exception:  # keep compacting next time; a failure loses no data
                log.exception("compaction failed")
            finally:
                close_old_connections()
    thread = threading.Thread(target=loop, name="compactor", daemon=True)
    thread.start()
    return thread


def serve(options: Options, cert_file: str, key_file: str, client_ca_file: str,
          on_started=None) -> None:
    from apiserver.endpoints.state import server_state
    from apiserver.server import serve as serving
    from apiserver.server.handler_chain import build_handler_chain
    from apiserver.server.hooks import run_post_start

    from apiserver import options as opts
    opts.set_current(options)
    state = server_state()
    run_post_start(state.stores)
    close_old_connections()
    if options.workers > 1:
        from apiserver.server.workers import supervise
        return supervise(options, cert_file, key_file, client_ca_file, on_started)
    stop = threading.Event()
    start_compactor(state.stores.storage, options.compaction_interval, stop)
    app = build_handler_chain(options)
    freeze_startup_heap()
    try:
        serving.run(app, options, cert_file, key_file, client_ca_file, on_started)
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
