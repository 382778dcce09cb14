"""core/v1 LimitRange (``kubectl get limits``).

Upstream: ``SetDefaults_LimitRangeItem`` (for Container limits: default ← max, then
defaultRequest ← default ← min), ``ValidateLimitRange`` (type, quantities, min ≤
defaultRequest ≤ default ≤ max) and no printer: kubectl shows the generic
``NAME  CREATED AT`` table.  Applying the defaults to pods is the LimitRanger admission
plugin's job, not this kind's.
"""
from __future__ import annotations

from apiserver.registry.strategy import Column, Strategy
from apiserver.runtime import errors
from apiserver.runtime.quantity import QuantityError, parse_quantity

from .columns import column, doc

_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
QUANTITY_KEYS = ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio")
# (smaller, larger, message) checks of ValidateLimitRange, in upstream's order; the error
# is reported on the first named field
ORDER_CHECKS = (
    ("min", "max", "min", "min value {a} is greater than max value {b}"),
    ("min", "defaultRequest", "defaultRequest", "min value {a} is greater than default request value {b}"),
    ("defaultRequest", "max", "defaultRequest", "default request value {a} is greater than max value {b}"),
    ("defaultRequest", "default", "defaultRequest", "default request value {a} is greater than default limit value {b}"),
    ("min", "default", "default", "min value {a} is greater than default value {b}"),
    ("default", "max", "default", "default value {a} is greater than max value {b}"),
)


class LimitRangeStrategy(Strategy):
    kind = "LimitRange"
    plural = "limitranges"
    short_names = ("limits",)
    schema_name = "io.k8s.api.core.v1.LimitRange"
    # upstream's default table convertor (k8s.io/apiserver pkg/registry/rest/table.go)
    columns = (column("Name", _META, "name", format="name"),
               Column("Created At", "date", "", doc(_META, "creationTimestamp")))

    def default(self, obj):
        for item in (obj.get("spec") or {}).get("limits") or []:
            if not isinstance(item, dict) or item.get("type") != "Container":
                continue
            default = dict(item.get("default") or {})
            for key, value in (item.get("max") or {}).items():
                default.setdefault(key, value)
            request = dict(item.get("defaultRequest") or {})
            for source in (default, item.get("min") or {}):
                for key, value in source.items():
                    request.setdefault(key, value)
            if default:
                item["default"] = default
            if request:
                item["defaultRequest"] = request

    def validate(self, ctx, obj):
        errs, seen = [], set()
        for i, item in enumerate((obj.get("spec") or {}).get("limits") or []):
            if not isinstance(item, dict):
                continue
            path = f"spec.limits[{i}]"
            kind = item.get("type") or ""
            if not kind:
                errs.append(errors.required(f"{path}.type"))
            elif kind in seen:
                errs.append(errors.duplicate(f"{path}.type", kind))
            seen.add(kind)
            parsed = {}
            for key in QUANTITY_KEYS:
                parsed[key] = {}
                for name, text in (item.get(key) or {}).items():
                    try:
                        q = parse_quantity(text)
                    except (QuantityError, TypeError) as exc:
                        errs.append(errors.invalid(f"{path}.{key}[{name}]", text, str(exc)))
                        continue
                    if q.value < 0:
                        errs.append(errors.invalid(f"{path}.{key}[{name}]", str(q),
                                                   "must be greater than or equal to 0"))
                    parsed[key][name] = q
            if kind == "Pod":
                for key in ("default", "defaultRequest"):
                    if item.get(key):
                        errs.append(errors.forbidden(f"{path}.{key}",
                                                     "may not be specified when `type` is 'Pod'"))
            names = sorted({n for values in parsed.values() for n in values})
            for name in names:
                for small, large, where, text in ORDER_CHECKS:
                    a, b = parsed[small].get(name), parsed[large].get(name)
                    if a is not None and b is not None and a.value > b.value:
                        value = parsed[where][name]
                        errs.append(errors.invalid(f"{path}.{where}[{name}]", str(value),
                                                   text.format(a=a, b=b)))
        return errs

    def table_row(self, obj):
        return [obj["metadata"].get("name", ""), obj["metadata"].get("creationTimestamp", "")]


