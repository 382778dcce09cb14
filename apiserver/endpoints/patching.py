"""PATCH: pick the engine by Content-Type and build the Store's transform.

Upstream: k8s.io/apiserver ``pkg/endpoints/handlers/patch.go``.  JSON patch and merge patch
work for every kind; strategic merge patch needs the kind's schema (built-ins only; custom
resources answer 415 so kubectl falls back to merge patch); apply patch is server-side apply.
"""
from __future__ import annotations

from apiserver.fieldmanager import apply as ssa_apply
from apiserver.endpoints.patch.jsonpatch import apply_json_patch
from apiserver.endpoints.patch.mergepatch import apply_merge_patch
from apiserver.endpoints.patch.strategic import apply_strategic_merge_patch
from apiserver.registry import meta as metalib
from apiserver.runtime import errors
from apiserver.runtime.serialization import loads_any, loads_json

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY_YAML = "application/apply-patch+yaml"
APPLY_CBOR = "application/apply-patch+cbor"
SUPPORTED = (JSON_PATCH, MERGE_PATCH, STRATEGIC, APPLY_YAML)
MAX_MANAGER = 128


def patch(store, namespace, name, content_type: str, body: bytes, ctx, *, force: bool,
          subresource: str = ""):
    """Apply a PATCH to ``store``; returns (document, created)."""
    media = content_type.split(";")[0].strip().lower()
    # a kind opts out with ``strategic_merge_patch = False`` (custom resources: upstream's
    # crdHandler accepts every patch type but strategic merge)
    strategic = store.schema is not None and getattr(store.strategy, "strategic_merge_patch", True)
    if media not in SUPPORTED or (media == STRATEGIC and not strategic):
        accepted = ", ".join(t for t in SUPPORTED if t != STRATEGIC or strategic)
        raise errors.UnsupportedMediaType(
            f"the body of the request was in an unknown format - accepted media types include: {accepted}")
    if media == APPLY_YAML:
        return _apply(store, namespace, name, body, ctx, force)
    if media == JSON_PATCH:
        ops = loads_json(body)
        if not isinstance(ops, list):
            raise errors.BadRequest("json: cannot unmarshal object into Go value of type jsonpatch.Patch")

        def transform(current):
            return apply_json_patch(current, ops)
        precondition = _json_patch_rv(ops)
    else:
        doc = loads_json(body)
        if not isinstance(doc, dict):
            raise errors.BadRequest("json: cannot unmarshal into Go value of type map[string]interface {}")

        if media == MERGE_PATCH:
            def transform(current):
                return apply_merge_patch(current, doc)
        else:
            def transform(current):
                return apply_strategic_merge_patch(current, doc, store.schema)
        meta = doc.get("metadata")
        precondition = meta.get("resourceVersion") if isinstance(meta, dict) else None
    return store.guaranteed_update(namespace, name, transform, ctx,
                                   precondition_rv=str(precondition) if precondition else None)


def _json_patch_rv(ops: list):
    for op in ops:
        if isinstance(op, dict) and op.get("path") == "/metadata/resourceVersion" \
                and op.get("op") in ("add", "replace", "test"):
            return op.get("value")
    return None


def _apply(store, namespace, name, body: bytes, ctx, force: bool):
    if not ctx.field_manager:
        raise errors.BadRequest("PATCH, application/apply-patch+yaml: fieldManager is required "
                                "for apply requests")
    applied = loads_any(body, APPLY_YAML)
    if not isinstance(applied, dict):
        raise errors.BadRequest("apply patch must be an object")
    s = store.strategy
    if applied.get("kind") and applied.get("kind") != s.kind:
        raise errors.BadRequest(f'the kind of the object ({applied.get("kind")}) does not match '
                                f"the kind on the URL ({s.kind})")
    meta = applied.setdefault("metadata", {})
    if meta.get("name") and meta["name"] != name:
        raise errors.BadRequest(f"the name of the object ({meta['name']}) does not match the "
                                f"name on the URL ({name})")
    meta["name"] = name
    precondition = meta.get("resourceVersion")
    ctx.applying = True

    def transform(current):
        return ssa_apply(current, applied, manager=ctx.field_manager, force=force,
                         api_version=s.api_version(), schema=store.schema,
                         now=metalib.now_rfc3339())
    return store.guaranteed_update(namespace, name, transform, ctx,
                                   precondition_rv=str(precondition) if precondition else None,
                                   create_missing=True)
