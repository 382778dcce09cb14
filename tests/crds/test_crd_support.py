"""What the CustomResourceDefinition tests share: a valid definition, the Store, and the
field errors a create is refused with."""
from __future__ import annotations

import copy
import dataclasses

from apiserver.runtime import errors

GROUP = "apiextensions.k8s.io"
PLURAL = "customresourcedefinitions"
SCHEMA = {"type": "object",
          "properties": {"spec": {"type": "object",
                                  "properties": {"size": {"type": "integer"},
                                                 "color": {"type": "string"}}},
                         "status": {"type": "object",
                                    "properties": {"replicas": {"type": "integer"}}}}}


def crd(name: str = "widgets", group: str = "example.com", kind: str = "Widget", *,
        scope: str = "Namespaced", schema: dict | None = None, **version) -> dict:
    """A valid v1 CustomResourceDefinition with one served storage version ``v1``."""
    v1 = {"name": "v1", "served": True, "storage": True,
          "schema": {"openAPIV3Schema": copy.deepcopy(schema or SCHEMA)}, **version}
    return {"apiVersion": f"{GROUP}/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{name}.{group}"},
            "spec": {"group": group, "scope": scope,
                     "names": {"plural": name, "kind": kind},
                     "versions": [v1]}}


def crd_store(stores):
    return stores.store(GROUP, "v1", PLURAL)


def causes(store, ctx, obj) -> list[tuple[str, str]]:
    """(field, message) of each cause of the 422 a create of ``obj`` gets; [] when the
    create succeeds (as a dry run: nothing is stored)."""
    try:
        store.create(None, obj, dataclasses.replace(ctx, dry_run=True))
    except errors.Invalid as exc:
        return [(c.field, c.message) for c in exc.causes]
    return []
