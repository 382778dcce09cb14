"""Patch engines for ``PATCH`` requests: pure functions from (document, patch) to a new document.

* :func:`apply_json_patch` — RFC 6902 JSON Patch (``application/json-patch+json``).
* :func:`apply_merge_patch` — RFC 7386 JSON merge patch (``application/merge-patch+json``).
* :func:`apply_strategic_merge_patch` — Kubernetes strategic merge patch
  (``application/strategic-merge-patch+json``), driven by the built-in type definitions'
  ``x-kubernetes-patch-strategy`` / ``x-kubernetes-patch-merge-key`` extensions.

Every engine takes already-decoded JSON values (dicts, lists, scalars), never mutates its
inputs, and reports bad input by raising the typed errors of :mod:`apiserver.runtime.errors`
with the codes and messages kube-apiserver uses.  Choosing an engine from the request's
``Content-Type`` is the caller's job.

May import: the standard library, orjson, ``apiserver.runtime.errors`` and
``apiserver.openapi.definitions`` (no Django).
"""
from apiserver.endpoints.patch.jsonpatch import apply_json_patch
from apiserver.endpoints.patch.mergepatch import apply_merge_patch
from apiserver.endpoints.patch.strategic import apply_strategic_merge_patch

__all__ = ["apply_json_patch", "apply_merge_patch", "apply_strategic_merge_patch"]
