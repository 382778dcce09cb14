"""core/v1 ``bindings``: the legacy create-only form of ``pods/<name>/binding``
(``POST /api/v1/namespaces/<ns>/bindings`` with the pod named in ``metadata.name``).
Upstream serves both from one BindingREST (pkg/registry/core/pod/storage/storage.go)."""
from __future__ import annotations

from apiserver.registry.strategy import Strategy
from apiserver.runtime import errors


class BindingStrategy(Strategy):
    kind = "Binding"
    plural = "bindings"
    verbs = ("create",)
    stored = False
    schema_name = "io.k8s.api.core.v1.Binding"

    def create_virtual(self, namespace, obj, ctx):
        from apiserver.endpoints.state import server_state

        name = (obj.get("metadata") or {}).get("name") if isinstance(obj.get("metadata"), dict) else ""
        if not name:
            raise errors.Invalid.for_object("Binding", "", "", [errors.required("metadata.name")])
        pods = server_state().stores.store("", "v1", "pods")
        ctx.subresource = "binding"
        return pods.strategy.create_subresource(pods, namespace, name, "binding", obj, ctx)
