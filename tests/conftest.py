"""Shared fixtures.

The suite runs once per database: SQLite by default, PostgreSQL when ``DATABASE_URL`` is set
(``scripts/test`` does both).  pytest-django creates and migrates the test database.
"""
import os

import pytest


@pytest.fixture
def stores(db):
    """A fresh Store registry over the SQL storage of the test database."""
    from apiserver.registry.store import StoreRegistry
    from apiserver.runtime.scheme import scheme
    from apiserver.storage.sql import SQLStorage

    return StoreRegistry(scheme, SQLStorage())


@pytest.fixture
def ctx():
    from apiserver.registry.context import RequestContext, UserInfo

    return RequestContext(user=UserInfo("tester", groups=("system:masters",)),
                          field_manager="tests")


def database_vendor() -> str:
    return "postgresql" if os.environ.get("DATABASE_URL") else "sqlite"
