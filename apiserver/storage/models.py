"""The tables behind the generic store.

``Revision`` is a single row holding the global revision (like etcd's) and the compacted
revision.  A writer bumps it inside its transaction (``UPDATE … RETURNING``), which takes the
row lock until COMMIT, so transactions commit in revision order and a reader that sees
revision N sees every write ≤ N, as in etcd, whose write transaction bumps the revision once
and keeps new reads out until it lands (etcd-io/etcd:server/mvcc/kvstore_txn.go).

``StoredObject`` is the current state: one row per (resource, namespace, name), the document
as JSON text with ``metadata.resourceVersion`` already set to ``rv`` so lists pass the stored
bytes straight through.

``Change`` is the history: one row per write, in the same transaction.  Watches tail it and
reads "as of revision R" (paging) use it.  Compaction removes rows superseded at or below the
compaction target, so the state as of any revision ≥ the target can still be rebuilt.
"""
from django.db import models


class Revision(models.Model):
    id = models.SmallIntegerField(primary_key=True)
    rv = models.BigIntegerField(default=1)
    compacted = models.BigIntegerField(default=0)

    class Meta:
        db_table = "apiserver_revision"


class StoredObject(models.Model):
    resource = models.CharField(max_length=300)    # "pods", "deployments.apps"
    namespace = models.CharField(max_length=63, blank=True, default="")
    name = models.CharField(max_length=253)
    rv = models.BigIntegerField()
    doc = models.TextField()

    class Meta:
        db_table = "apiserver_object"
        constraints = [models.UniqueConstraint(fields=["resource", "namespace", "name"],
                                               name="apiserver_object_key")]


class Change(models.Model):
    TYPES = [("ADDED", "ADDED"), ("MODIFIED", "MODIFIED"), ("DELETED", "DELETED")]

    rv = models.BigIntegerField(primary_key=True)
    resource = models.CharField(max_length=300)
    namespace = models.CharField(max_length=63, blank=True, default="")
    name = models.CharField(max_length=253)
    type = models.CharField(max_length=8, choices=TYPES)
    doc = models.TextField()
    created = models.FloatField()                   # epoch seconds, for the compaction window

    class Meta:
        db_table = "apiserver_change"
        indexes = [models.Index(fields=["resource", "namespace", "name", "rv"],
                                name="apiserver_change_key")]
