"""core/v1 ``bindings``: the legacy create-only form of ``pods/<name>/binding``
(``POST /api/v1/namespaces/<ns>/bindings`` with the pod named in ``metadata.name``).
Upstream serves both from one BindingREST (pkg/registry/core/pod/storage/storage.go)."""
from __future__ import annotations

from apiserver.registry.strategy import Strategy
from apiserver.runtime import errors

from .pods import BINDING


class BindingStrategy(Strategy):
    kind = "Binding"
    plural = "bindings"
    verbs = ("create",)
    stored = False
    schema_name = "io.k8s.api.core.v1.Binding"

    def create_virtual(self, ctx, namespace, obj):
        """POST ``bindings``: the pods/binding subresource of the pod ``metadata.name``."""
        name = (obj.get("metadata") or {}).get("name") if isinstance(obj.get("metadata"), dict) else ""
        if not name:
            raise errors.Invalid.for_object("Binding", "", "", [errors.required("metadata.name")])
        pods = ctx.stores.store("", "v1", "pods")
        return BINDING.create(ctx, pods, namespace, name, obj)
