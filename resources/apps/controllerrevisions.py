"""apps/v1 ControllerRevision: an immutable snapshot of a DaemonSet's or StatefulSet's
template, kept for rollbacks.

Upstream: ``ValidateControllerRevision``/``ValidateControllerRevisionUpdate``
(kubernetes/kubernetes:pkg/apis/apps/validation/validation.go; in 1.32 ``data`` is
immutable, ``revision`` only non-negative), kubernetes/kubernetes:pkg/registry/apps/controllerrevision/strategy.go
and ``printControllerRevision`` (kubernetes/kubernetes:pkg/printers/internalversion/printers.go).
"""
from __future__ import annotations

import json

from apiserver.registry.printers import age
from apiserver.registry.strategy import AGE_COLUMN, NAME_COLUMN, Column, Strategy
from apiserver.runtime import errors
from apiserver.runtime.validation import GoText, validate_immutable, validate_nonnegative
from resources.core.columns import column

_DEF = "io.k8s.api.apps.v1.ControllerRevision"


class ControllerRevisionStrategy(Strategy):
    group = "apps"
    kind = "ControllerRevision"
    plural = "controllerrevisions"
    schema_name = _DEF
    columns = (NAME_COLUMN,
               Column("Controller", description="Controller of the object"),
               column("Revision", _DEF, "revision"),
               AGE_COLUMN)

    def default(self, obj):
        """``revision`` is a non-pointer int64 without omitempty: Go always writes it."""
        if obj.get("revision") is None:
            obj["revision"] = 0

    def validate(self, ctx, obj):
        """``ValidateControllerRevision``: data present, revision non-negative."""
        errs = []
        if obj.get("data") is None:
            errs.append(errors.required("data", "data is mandatory"))
        revision = obj.get("revision")
        if isinstance(revision, int):
            errs += validate_nonnegative(revision, "revision")
        return errs

    def validate_update(self, ctx, new, old):
        """``ValidateControllerRevisionUpdate``: the create checks, and data may not change."""
        errs = self.validate(ctx, new)
        data = new.get("data")
        errs += validate_immutable(data, old.get("data"), "data",
                                   shown=GoText(json.dumps(data, sort_keys=True)))
        return errs

    def table_row(self, obj):
        return [obj["metadata"]["name"], controller_name(obj), obj.get("revision", 0), age(obj)]


def controller_name(obj: dict) -> str:
    """``kind.group/name`` of the controlling owner, lower-cased as upstream's
    ``formatResourceName`` prints a GroupKind; ``<none>`` without a controller."""
    for ref in obj.get("metadata", {}).get("ownerReferences") or []:
        if not isinstance(ref, dict) or ref.get("controller") is not True:
            continue
        api_version = str(ref.get("apiVersion") or "")
        group = api_version.split("/", 1)[0] if "/" in api_version else ""
        kind = str(ref.get("kind") or "")
        name = str(ref.get("name") or "")
        if not kind and not group:
            return name
        return (f"{kind}.{group}" if group else kind).lower() + "/" + name
    return "<none>"
