"""``--workers N``: N server processes sharing one listening socket.

The supervisor (the process that ran migrations and the post-start hooks) binds the port,
forks the workers and runs the compactor; each worker builds its own handler chain, thread
pool, database connections and watch cache.  A worker's watch cache learns of the other
workers' writes from PostgreSQL NOTIFY, or on SQLite from a short poll (there is no
cross-process wake-up there), and always from the change log, which stays the only truth.
SIGTERM/SIGINT to the supervisor are passed to every worker, which drain and exit.

Forking needs a supervisor that holds no database connection and runs no threads yet, so
it closes its connections first and starts the compactor only after forking.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import threading

from django.db import connections

log = logging.getLogger("apiserver.workers")

SQLITE_POLL_SECONDS = 0.05   # cross-worker event latency on SQLite


def _listen(options) -> socket.socket:
    family = socket.AF_INET6 if ":" in options.bind_address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((options.bind_address, options.secure_port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _worker(options, cert_file, key_file, client_ca_file, sock) -> None:
    """Runs in a forked child: serve on the shared socket until told to stop."""
    from apiserver.server import serve as serving
    from apiserver.server.handler_chain import build_handler_chain
    from apiserver.server.lifecycle import freeze_startup_heap
    from apiserver.storage import watch_cache

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if connections["default"].vendor != "postgresql":
        watch_cache.POLL_SECONDS = SQLITE_POLL_SECONDS
    app = build_handler_chain(options)
    freeze_startup_heap()
    serving.run(app, options, cert_file, key_file, client_ca_file, sockets=[sock])


def supervise(options, cert_file, key_file, client_ca_file, on_started=None) -> None:
    from apiserver.server.lifecycle import start_compactor
    from apiserver.endpoints.state import server_state

    sock = _listen(options)
    connections.close_all()
    children: list[int] = []
    for _ in range(options.workers):
        pid = os.fork()
        if pid == 0:                                   # the worker
            code = 0
            try:
                _worker(options, cert_file, key_file, client_ca_file, sock)
            except BaseException:                      # never return into the supervisor's code
                log.exception("worker failed")
                code = 1
            finally:
                os._exit(code)
        children.append(pid)

    stopping = threading.Event()

    def forward(signum, frame):
        stopping.set()
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    stop = threading.Event()
    start_compactor(server_state().stores.storage, options.compaction_interval, stop)
    if on_started:
        on_started()
    try:
        alive = set(children)
        while alive:
            pid, status = os.waitpid(-1, 0)
            alive.discard(pid)
            if not stopping.is_set():
                # one worker died on its own: stop the rest rather than serve half-capacity
                log.error("worker %d exited (status %d); stopping the others", pid, status)
                forward(signal.SIGTERM, None)
    except ChildProcessError:
        pass
    finally:
        stop.set()
        sock.close()
