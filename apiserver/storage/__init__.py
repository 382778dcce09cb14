"""Storage: one generic table of JSON documents, one global revision counter and a
change log, behind the :class:`~apiserver.storage.base.Storage` protocol.

May import: django.db, apiserver.runtime.  Never imports kinds or apps.
"""
