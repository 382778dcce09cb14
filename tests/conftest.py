"""Shared fixtures.

The suite runs once per database: SQLite by default, PostgreSQL when ``DATABASE_URL`` is set
(``scripts/test`` does both).  pytest-django creates and migrates the test database.
"""
import dataclasses
import os

import pytest

# fixtures shared by every test module: a transactional database real threads can write to
from tests.apiserver.storage.support import _restore_revision_row, threaded_db  # noqa: F401


def build_server(**config):
    """(completed config, head of the server chain) as a server process builds them, from
    ``Config`` fields (``options``, ``authorizer``, ``admission_plugins`` …).  Tests get
    no admission plugins and AlwaysAllow unless they ask for others."""
    from apiserver.authorization.base import build
    from apiserver.options import Options
    from apiserver.server.chain import create_server_chain
    from apiserver.server.config import Config

    config.setdefault("admission_plugins", ())
    config.setdefault("authorizer", build(("AlwaysAllow",)))
    # in-process requests carry a verified client-certificate subject in their scope, as
    # uvicorn's protocol puts it there; the x509 authenticator is on when a client CA is named
    options = config.get("options") or Options()
    if not options.client_ca_file:
        config["options"] = dataclasses.replace(options, client_ca_file="in-process")
    completed = Config(**config).complete()
    return completed, create_server_chain(completed)


@pytest.fixture
def server(db):
    """The head of a fresh server chain over the test database."""
    return build_server()[1]


@pytest.fixture
def stores(server):
    """The Store registry of a fresh server chain over the test database."""
    return server.config.stores


@pytest.fixture
def ctx():
    from apiserver.authentication.user import UserInfo
    from apiserver.registry.context import RequestContext

    return RequestContext(user=UserInfo("tester", groups=("system:masters",)),
                          field_manager="tests")


def database_vendor() -> str:
    return "postgresql" if os.environ.get("DATABASE_URL") else "sqlite"


# Tests that touch no database at all run in the SQLite pass only: the workers' unit tests
# (API-client logic: scheduler, kubelet, controllers, metrics server) and the static checks
# of the source (layering, serving globals).  The PostgreSQL pass of scripts/test would only
# repeat them; E2E_ALL_BACKENDS=1 keeps them there too.
_DATABASE_FREE = ("workers", "test_layering.py", "test_no_serving_globals.py")


def pytest_collection_modifyitems(config, items):
    if not os.environ.get("DATABASE_URL") or os.environ.get("E2E_ALL_BACKENDS"):
        return
    here = os.path.dirname(os.path.abspath(__file__))
    keep, drop = [], []
    for item in items:
        rel = os.path.relpath(str(item.path), here).split(os.sep)
        (drop if rel[0] in _DATABASE_FREE else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
