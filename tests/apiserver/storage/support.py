"""Test support for storage tests that need several database connections at once.

``threaded_db`` is ``transactional_db`` that real threads can write to concurrently, on both
databases of ``scripts/test``:

* PostgreSQL: each thread opens its own connection to the test database; the thread must
  close it (``run_in_threads`` does), or dropping the test database fails at session end.
* SQLite: pytest-django's test database is an in-memory shared-cache database, where a
  second writer gets "database table is locked" at once instead of waiting (table locks of
  the shared cache ignore the busy timeout).  The server never runs like that: it runs on a
  file with WAL and BEGIN IMMEDIATE.  So for the duration of the test the default connection
  is pointed at a file copy of the test database (same schema, same revision row), with the
  project's own connection OPTIONS, and pointed back afterwards.

Both also make sure the global revision row exists: ``transactional_db`` empties every table
when it ends (the row included), so it is put back then too.
"""
from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from django.db import connection


def ensure_revision_row() -> None:
    from apiserver.storage.models import Revision
    Revision.objects.get_or_create(id=1, defaults={"rv": 1, "compacted": 0})


@pytest.fixture
def _restore_revision_row(django_db_blocker):
    """Set up before ``transactional_db`` so it is torn down after its flush."""
    yield
    with django_db_blocker.unblock():
        ensure_revision_row()


@pytest.fixture
def threaded_db(_restore_revision_row, transactional_db, tmp_path):
    ensure_revision_row()
    if connection.vendor != "sqlite":
        yield
        return
    settings = connection.settings_dict
    memory_name = settings["NAME"]
    # Keep the in-memory database alive while no Django connection points at it.
    keeper = sqlite3.connect(memory_name, uri=True)
    connection.ensure_connection()
    path = str(tmp_path / "threaded.sqlite3")
    target = sqlite3.connect(path)
    connection.connection.backup(target)
    target.close()
    settings["NAME"] = path
    connection.close()            # really closes now: NAME is a file
    try:
        yield
    finally:
        connection.close()
        settings["NAME"] = memory_name
        connection.ensure_connection()    # back on the in-memory database ...
        keeper.close()                    # ... before its last other connection goes


def run_in_threads(targets, timeout: float = 60.0) -> list:
    """Run each callable in its own thread (started together behind a barrier), close each
    thread's database connection, and return the results in order; re-raise the first
    exception a thread raised."""
    barrier = threading.Barrier(len(targets))
    results: list = [None] * len(targets)
    failures: list = []

    def body(i, fn):
        try:
            barrier.wait(timeout)
            results[i] = fn()
        except BaseException as exc:  # reported to the test below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=body, args=(i, fn), daemon=True)
               for i, fn in enumerate(targets)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not any(t.is_alive() for t in threads), "a writer thread hung"
    if failures:
        raise failures[0]
    return results


def other_backends(wait: float = 2.0) -> int:
    """PostgreSQL connections to the test database other than this thread's (0 on SQLite),
    after waiting up to ``wait`` seconds for them to go (a closed connection's server
    process leaves pg_stat_activity a moment after the client closed it)."""
    if connection.vendor != "postgresql":
        return 0
    deadline = time.monotonic() + wait
    while True:
        with connection.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND pid <> pg_backend_pid()")
            count = cur.fetchone()[0]
        if count == 0 or time.monotonic() > deadline:
            return count
        time.sleep(0.02)
