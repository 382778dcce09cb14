"""core/v1 ComponentStatus (``cs``): read-only, computed on every request, never stored.

Upstream (kubernetes/kubernetes:pkg/registry/core/componentstatus/rest.go) probes the
scheduler, the controller manager and each etcd server and answers one ComponentStatus per
component with a single ``Healthy`` condition; ``printComponentStatus`` in
pkg/printers/internalversion/printers.go shows Healthy/Unhealthy with the condition's
message and error.  The type is deprecated since 1.19, so every answer carries the warning
kube-apiserver sends (its lifecycle tag in k8s.io/api core/v1).

What this server can report honestly: ``etcd-0`` is the database behind it (healthy when a
``SELECT 1`` works), and neither a scheduler nor a controller manager runs with it yet, so
both are reported Unhealthy saying so.
"""
from __future__ import annotations

from django.db import DatabaseError, connection

from apiserver.registry.strategy import NAME_COLUMN, Column, Strategy
from apiserver.runtime import errors

DEPRECATION = "v1 ComponentStatus is deprecated in v1.19+"
NOT_RUNNING = {
    "scheduler": "no kube-scheduler runs with this server yet",
    "controller-manager": "no kube-controller-manager runs with this server yet",
}
COMPONENTS = ("scheduler", "controller-manager", "etcd-0")


class ComponentNotFound(errors.APIError):
    """Upstream returns a plain Go error, which becomes a 500 Status without a reason."""

    code, reason = 500, ""


class ComponentStatusStrategy(Strategy):
    kind = "ComponentStatus"
    plural = "componentstatuses"
    namespaced = False
    short_names = ("cs",)
    verbs = ("get", "list")
    stored = False
    schema_name = "io.k8s.api.core.v1.ComponentStatus"
    columns = (NAME_COLUMN,
               Column("Status", description="Status of the component conditions"),
               Column("Message", description="Message of the component conditions"),
               Column("Error", description="Error of the component conditions"))

    def read_virtual(self, ctx, namespace, name):
        ctx.warn(DEPRECATION)
        if name not in COMPONENTS:
            raise ComponentNotFound(f"Component not found: {name}")
        return component_status(name)

    def list_virtual(self, ctx, namespace):
        ctx.warn(DEPRECATION)
        return [component_status(name) for name in COMPONENTS]

    def table_row(self, obj):
        status, message, error = "Unknown", "", ""
        for cond in obj.get("conditions") or []:
            if cond.get("type") == "Healthy":
                status = "Healthy" if cond.get("status") == "True" else "Unhealthy"
                message, error = cond.get("message", ""), cond.get("error", "")
                break
        return [obj["metadata"]["name"], status, message, error]


def component_status(name: str) -> dict:
    """One component's status as kube-apiserver writes it (``creationTimestamp: null``:
    Go writes the zero time of an object that was never stored)."""
    if name == "etcd-0":
        condition = _database_condition()
    else:
        # an HTTP probe that cannot reach its target: Failure, the reason as the message
        condition = {"type": "Healthy", "status": "False", "message": NOT_RUNNING[name]}
    return {"kind": "ComponentStatus", "apiVersion": "v1",
            "metadata": {"name": name, "creationTimestamp": None}, "conditions": [condition]}


def _database_condition() -> dict:
    """The storage check: the database answers ``SELECT 1``."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        return {"type": "Healthy", "status": "False", "error": str(exc) or type(exc).__name__}
    return {"type": "Healthy", "status": "True", "message": "ok"}
