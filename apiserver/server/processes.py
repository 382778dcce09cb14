"""``--server-processes N``: N API server processes sharing one listening socket.

The supervisor binds the port and forks the server processes; each builds its own config,
server chain, thread pool, database connections and watch cache.  A process's watch cache
learns of the others' writes from PostgreSQL NOTIFY, or on SQLite from a short poll (there is
no cross-process wake-up there), and always from the change log, which stays the only truth.
After forking, the supervisor builds a config of its own to run the post-start hooks
(bootstrap, in-process controllers) and the compactor.  SIGTERM/SIGINT to the supervisor are
passed to every server process, which drain and exit.

Forking needs a supervisor that holds no database connection and runs no threads yet, so
it closes its connections first and starts its own work only after forking.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import threading

from django.db import connections

from apiserver.server import serve as serving
from apiserver.server import lifecycle
from apiserver.server.lifecycle import build, freeze_startup_heap, start_background

log = logging.getLogger("apiserver.processes")

SQLITE_POLL_SECONDS = 0.05   # cross-process event latency on SQLite


def _listen(options) -> socket.socket:
    family = socket.AF_INET6 if ":" in options.bind_address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((options.bind_address, options.secure_port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _server_process(options, cert_file, key_file, client_ca_file, sock) -> None:
    """Runs in a forked child: serve on the shared socket until told to stop."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    postgres = connections["default"].vendor == "postgresql"
    completed, app = build(options, **({} if postgres else
                                        {"watch_poll_seconds": SQLITE_POLL_SECONDS}))
    freeze_startup_heap()
    serving.run(app, options, cert_file, key_file, client_ca_file, sockets=[sock],
                cacher=completed.cacher)


def start(options, cert_file, key_file, client_ca_file, on_started=None) -> None:
    """Serve as the flags say: one process, or a supervisor and ``--server-processes``."""
    if options.server_processes > 1:
        return supervise(options, cert_file, key_file, client_ca_file, on_started)
    return lifecycle.serve(options, cert_file, key_file, client_ca_file, on_started)


def supervise(options, cert_file, key_file, client_ca_file, on_started=None) -> None:
    sock = _listen(options)
    connections.close_all()
    children: list[int] = []
    for _ in range(options.server_processes):
        pid = os.fork()
        if pid == 0:                                   # a server process
            code = 0
            try:
                _server_process(options, cert_file, key_file, client_ca_file, sock)
            except BaseException:                      # never return into the supervisor's code
                log.exception("server process failed")
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
    completed, _ = build(options)
    start_background(completed, stop)
    if on_started:
        on_started()
    try:
        alive = set(children)
        while alive:
            pid, status = os.waitpid(-1, 0)
            alive.discard(pid)
            if not stopping.is_set():
                # one process died on its own: stop the rest rather than serve half-capacity
                log.error("server process %d exited (status %d); stopping the others", pid, status)
                forward(signal.SIGTERM, None)
    except ChildProcessError:
        pass
    finally:
        stop.set()
        sock.close()
