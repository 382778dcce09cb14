"""storage.k8s.io/v1 CSIStorageCapacity (namespaced): the capacity a CSI driver reports for
one storage class and node topology.

Upstream: ``ValidateCSIStorageCapacity``/``ValidateCSIStorageCapacityUpdate``
(kubernetes/kubernetes:pkg/apis/storage/validation/validation.go),
kubernetes/kubernetes:pkg/registry/storage/csistoragecapacity/strategy.go and
``printCSIStorageCapacity`` (kubernetes/kubernetes:pkg/printers/internalversion/printers.go),
whose table has no Age column.  Upstream checks only ``capacity`` for a negative value,
not ``maximumVolumeSize``.
"""
from __future__ import annotations

from apiserver.registry.strategy import NAME_COLUMN, Strategy
from apiserver.runtime import errors
from apiserver.runtime.quantity import QuantityError, parse_quantity
from apiserver.runtime.selectors import validate_label_selector
from apiserver.runtime.validation import (FIELD_IMMUTABLE, is_dns1123_subdomain,
                                          validate_quantity)
from resources.core.columns import column
from resources.podtemplate import go_label_selector

_DEF = "io.k8s.api.storage.v1.CSIStorageCapacity"
QUANTITIES = ("capacity", "maximumVolumeSize")


class CSIStorageCapacityStrategy(Strategy):
    group = "storage.k8s.io"
    kind = "CSIStorageCapacity"
    plural = "csistoragecapacities"
    schema_name = _DEF
    allow_unconditional_update = False
    columns = (NAME_COLUMN,
               column("StorageClassName", _DEF, "storageClassName"),
               column("Capacity", _DEF, "capacity"))

    def validate(self, ctx, obj):
        """``ValidateCSIStorageCapacity``: a valid node topology selector, a storage class
        name that is a DNS subdomain (an empty one fails the pattern, not "required") and a
        non-negative capacity."""
        errs = validate_label_selector(obj.get("nodeTopology"), "nodeTopology")
        name = obj.get("storageClassName") or ""
        errs += [errors.invalid("storageClassName", name, m) for m in is_dns1123_subdomain(name)]
        if obj.get("capacity") is not None:
            errs += validate_quantity(obj["capacity"], "capacity", nonnegative=True)
        return errs

    def validate_update(self, ctx, new, old):
        """``ValidateCSIStorageCapacityUpdate``: the inputs of the CSI GetCapacity call
        (nodeTopology, storageClassName) are immutable."""
        errs = self.validate(ctx, new)
        if _selector(new.get("nodeTopology")) != _selector(old.get("nodeTopology")):
            errs.append(errors.invalid("nodeTopology", go_label_selector(new.get("nodeTopology")),
                                       FIELD_IMMUTABLE))
        if (new.get("storageClassName") or "") != (old.get("storageClassName") or ""):
            errs.append(errors.invalid("storageClassName", new.get("storageClassName") or "",
                                       FIELD_IMMUTABLE))
        return errs

    def canonicalize(self, obj):
        """Quantities are stored in canonical form, as a Go round trip writes them."""
        for key in QUANTITIES:
            if obj.get(key) is not None:
                try:
                    obj[key] = str(parse_quantity(obj[key]))
                except (QuantityError, TypeError):
                    pass

    def table_row(self, obj):
        capacity = obj.get("capacity")
        return [obj["metadata"]["name"], obj.get("storageClassName") or "",
                "<unset>" if capacity is None else str(capacity)]


def _selector(selector):
    # semantic equality: a selector with empty parts equals one without them; nil stays
    # distinct from {} (no node versus every node)
    if selector is None:
        return None
    return {k: v for k, v in selector.items() if v}
