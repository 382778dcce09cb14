"""Table-column helpers every kind shares.

Upstream's printers describe most columns with the Go field's doc string
(``apiv1.PodStatus{}.SwaggerDoc()["podIP"]``); :func:`doc` reads the same text from the
built-in OpenAPI definitions so our column descriptions match a real cluster's.  It is the
one such helper: the core kinds, the workloads (through ``resources.podtemplate``) and the
other groups all import it from here.
Upstream: k8s.io/kubernetes ``pkg/printers/internalversion/printers.go`` (AddHandlers).
"""
from __future__ import annotations

from apiserver.openapi import definitions
from apiserver.registry.strategy import Column

CORE = "io.k8s.api.core.v1."


def doc(definition: str, field: str) -> str:
    """The description of ``field`` in ``definition``: a full definition name
    (``"io.k8s.api.apps.v1.DeploymentStatus"``) or a short core/v1 one (``"PodStatus"``);
    "" when either is unknown."""
    name = definition if "." in definition else CORE + definition
    schema = definitions.get(name) or {}
    node = (schema.get("properties") or {}).get(field) or {}
    return node.get("description", "")


def column(name: str, definition: str = "", field: str = "", *, type: str = "string",
           priority: int = 0, description: str = "", format: str = "") -> Column:
    """A Column whose description is the doc string of ``definition.field`` unless given."""
    text = description or (doc(definition, field) if definition else "")
    return Column(name, type, format, text, priority)


def labels_text(labels: dict | None) -> str:
    """Upstream ``labels.FormatLabels``: sorted ``k=v`` pairs, ``<none>`` when empty."""
    if not labels:
        return "<none>"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))
