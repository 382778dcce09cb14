"""ObjectMeta lifecycle: what the server fills in on create and carries across updates.

Upstream: k8s.io/apiserver ``pkg/registry/rest/create.go`` (``FillObjectMetaSystemFields``),
``update.go`` and ``pkg/storage/names/generate.go``.

May import: the standard library.
"""
from __future__ import annotations

import random
import time
import uuid
from datetime import datetime, timezone

# upstream names.SimpleNameGenerator: 5 characters from an alphabet without vowels or lookalikes
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_MAX_PREFIX = 58
# metadata the server owns: clients cannot set it on create, nor change it on update
SYSTEM_META = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
               "generation", "selfLink")


_last_second: tuple[int, str] = (-1, "")


def now_rfc3339() -> str:
    """The current time as Kubernetes writes timestamps (RFC 3339, whole seconds, UTC);
    formatted once per second, since every write asks for it at least twice.  The cache is
    one tuple swapped in a single assignment, so threads never see half an update."""
    global _last_second
    second = int(time.time())
    cached = _last_second
    if cached[0] == second:
        return cached[1]
    text = datetime.fromtimestamp(second, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    _last_second = (second, text)
    return text


def generate_name(prefix: str) -> str:
    return prefix[:_MAX_PREFIX] + "".join(random.choice(_ALPHABET) for _ in range(5))


def fill_for_create(obj: dict, tracks_generation: bool) -> None:
    """Set uid, creationTimestamp, generation; clear what a client may not set on create."""
    meta = obj.setdefault("metadata", {})
    for key in SYSTEM_META:
        meta.pop(key, None)
    meta.pop("resourceVersion", None)
    meta["uid"] = str(uuid.uuid4())
    meta["creationTimestamp"] = now_rfc3339()
    if tracks_generation:
        meta["generation"] = 1


def carry_for_update(new: dict, old: dict, generation_ignores: tuple, tracks_generation: bool,
                     changed=None) -> None:
    """Copy server-owned metadata from ``old`` and bump generation when the desired state
    changed: ``changed(new, old)`` when given, else anything outside ``generation_ignores``."""
    meta = new.setdefault("metadata", {})
    old_meta = old.get("metadata", {})
    for key in SYSTEM_META:
        if key in old_meta:
            meta[key] = old_meta[key]
        else:
            meta.pop(key, None)
    if tracks_generation:
        generation = old_meta.get("generation", 1)
        if (changed(new, old) if changed is not None
                else _desired(new, generation_ignores) != _desired(old, generation_ignores)):
            generation += 1
        meta["generation"] = generation


def _desired(obj: dict, ignores: tuple) -> dict:
    return {k: v for k, v in obj.items() if k not in ignores}


def same_content(a: dict, b: dict) -> bool:
    """True when a write of ``a`` over ``b`` would change nothing a client can see, apart from
    resourceVersion and the timestamps inside managedFields: a no-op write.  Upstream skips
    byte-equal updates (kubernetes/apiserver:pkg/storage/etcd3/store.go, GuaranteedUpdate) and
    ignores timestamp-only managedFields changes
    (kubernetes/apiserver:pkg/endpoints/handlers/fieldmanager/equality.go)."""
    def strip(o):
        meta = {k: v for k, v in o.get("metadata", {}).items()
                if k not in ("resourceVersion", "managedFields")}
        fields = [(m.get("manager"), m.get("operation"), m.get("subresource"), m.get("fieldsV1"))
                  for m in o.get("metadata", {}).get("managedFields") or ()]
        return {**o, "metadata": meta}, fields
    return strip(a) == strip(b)
