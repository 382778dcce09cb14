"""Django discovers models here; they live in ``apiserver.storage.models``."""
from apiserver.storage.models import Change, Revision, StoredObject  # noqa: F401
