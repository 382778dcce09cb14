"""Fixtures for the storage.k8s.io tests: an in-process HTTP client and small helpers."""
from __future__ import annotations

import pytest
from django.db import connections

from apiserver.server import bridge
from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import ASGIClient, in_process_app

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
MERGE = "application/merge-patch+json"
BASE = "/apis/storage.k8s.io/v1"


@pytest.fixture
def client(db, monkeypatch):
    """Requests through the real filters and server chain, bound to the test's connection
    (as tests/apiserver/endpoints/test_handlers_inprocess.py does)."""
    monkeypatch.setattr(bridge, "close_old_connections", lambda: None)
    ensure_revision_row()
    app, conn = in_process_app()[1], connections["default"]

    def bound(scope, receive, send):
        connections["default"] = conn
        return app(scope, receive, send)
    return ASGIClient(bound)


def texts(errs) -> list[str]:
    return [e.error_text() for e in errs]


def meta(name: str, **extra) -> dict:
    return {"name": name, "creationTimestamp": "2024-01-01T00:00:00Z", **extra}
