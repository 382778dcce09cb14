"""FollowedList: a process-local copy of one resource that reads no database while nothing
changed, sees this process's writes at once and other processes' within a poll."""
from __future__ import annotations

import time

import pytest

from apiserver.registry.context import system_context
from apiserver.registry.followed import FollowedList, FollowedLists
from apiserver.storage.sql import SQLStorage
from tests.apiserver.storage.support import ensure_revision_row


@pytest.fixture
def cms(stores):
    ensure_revision_row()
    return stores.store("", "v1", "configmaps")


def create(store, name, ns="default", **data):
    store.create(ns, {"metadata": {"name": name}, "data": data}, system_context("t"))


def names(followed):
    return [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in followed.items()]


def test_local_writes_are_seen_at_once(cms, django_assert_num_queries):
    create(cms, "b")
    followed = FollowedList(cms, poll_seconds=3600)
    assert names(followed) == [("default", "b")]
    with django_assert_num_queries(0):               # nothing changed: memory only
        assert names(followed) == [("default", "b")]
    create(cms, "a", ns="other")
    create(cms, "c")
    assert names(followed) == [("default", "b"), ("default", "c"), ("other", "a")]
    cms.delete("default", "b", {}, system_context("t"))
    assert names(followed) == [("default", "c"), ("other", "a")]
    obj = followed.items()[0]
    assert obj["data"] == {}


def test_other_processes_writes_arrive_within_a_poll(cms):
    followed = FollowedList(cms, poll_seconds=0.2)
    assert names(followed) == []
    # another process: a storage of its own on the same database, whose commits this
    # process's listeners never hear of
    other = SQLStorage()
    other.create(cms.resource, "default", "x", {"apiVersion": "v1", "kind": "ConfigMap",
                                                 "metadata": {"name": "x",
                                                              "namespace": "default"}})
    assert names(followed) == []                      # not yet: within the poll interval
    time.sleep(0.25)
    assert names(followed) == [("default", "x")]


def test_a_compacted_cursor_relists(cms, monkeypatch):
    create(cms, "a")
    followed = FollowedList(cms, poll_seconds=3600)
    assert names(followed) == [("default", "a")]
    create(cms, "b")
    calls = []
    real = cms.storage.changes_after

    def compacted(rv, *a, **kw):
        from apiserver.storage.base import Compacted
        calls.append(rv)
        raise Compacted(rv, rv + 10)
    monkeypatch.setattr(cms.storage, "changes_after", compacted)
    assert names(followed) == [("default", "a"), ("default", "b")]
    assert calls                                       # it tried to follow, then re-listed
    monkeypatch.setattr(cms.storage, "changes_after", real)


def test_lists_of_kinds_not_served_are_empty(stores):
    lists = FollowedLists(stores, "no.such.group", "v1")
    assert lists.items("things") == []
    assert FollowedLists(stores, "", "v1").items("configmaps") == []
