"""The conformance suite on the SQL backend (SQLite or PostgreSQL, whichever the run uses)."""
import pytest

from tests.apiserver.storage.conformance import StorageConformance
from tests.apiserver.storage.support import ensure_revision_row


@pytest.mark.django_db
class TestSQLStorage(StorageConformance):
    def make_storage(self):
        from apiserver.storage.sql import SQLStorage

        ensure_revision_row()
        return SQLStorage()


@pytest.mark.django_db
def test_list_at_a_revision_racing_a_compaction_is_compacted_not_wrong():
    """A compaction that lands between ``_list_at``'s floor check and its reads deletes the
    history the rebuild needs; the list must then fail with Compacted (410), never return
    the revision with an object missing.  (SQL-specific: it hooks the floor check.)"""
    from apiserver.storage.base import Compacted
    from apiserver.storage.sql import SQLStorage

    class CompactsAfterTheCheck(SQLStorage):
        armed = False

        def compacted_revision(self):
            value = super().compacted_revision()
            if self.armed:
                self.armed = False
                self.compact(-60)          # everything up to now, right after the check
            return value

    ensure_revision_row()
    storage = CompactsAfterTheCheck()
    rv, _ = storage.create("foos", "ns", "a", {"metadata": {"name": "a"}, "v": 1})
    snapshot = storage.list("foos", "ns")
    rv, _ = storage.update("foos", "ns", "a", {"metadata": {"name": "a"}, "v": 2}, rv)
    storage.update("foos", "ns", "a", {"metadata": {"name": "a"}, "v": 3}, rv)
    storage.armed = True
    try:
        result = storage.list("foos", "ns", at=snapshot.revision)
    except Compacted as exc:
        assert exc.requested == snapshot.revision
        assert exc.compacted == storage.current_revision()
    else:
        assert result.items == snapshot.items
    assert storage.armed is False          # the race really happened
