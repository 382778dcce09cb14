"""storage.k8s.io/v1 CSINode (cluster-scoped, named after its Node): the CSI drivers a
kubelet registered on a node.

Upstream: ``ValidateCSINode``/``ValidateCSINodeUpdate``
(kubernetes/kubernetes:pkg/apis/storage/validation/validation.go),
kubernetes/kubernetes:pkg/registry/storage/csinode/strategy.go (long node IDs are allowed on
update only when the stored object already has one) and ``printCSINode``
(kubernetes/kubernetes:pkg/printers/internalversion/printers.go).
"""
from __future__ import annotations

import json

from apiserver.registry.printers import age
from apiserver.registry.strategy import AGE_COLUMN, NAME_COLUMN, Strategy
from apiserver.runtime import errors
from apiserver.runtime.validation import GoText, is_qualified_name, validate_nonnegative
from resources.core.columns import column
from resources.storage.validation import validate_csi_driver_name

NODE_ID_MAX = 192
NODE_ID_LONGER_MAX = 256


class CSINodeStrategy(Strategy):
    group = "storage.k8s.io"
    kind = "CSINode"
    plural = "csinodes"
    namespaced = False
    schema_name = "io.k8s.api.storage.v1.CSINode"
    allow_unconditional_update = False
    columns = (NAME_COLUMN,
               column("Drivers", type="integer",
                      description="Drivers indicates the number of CSI drivers registered on the node"),
               AGE_COLUMN)

    def default(self, obj):
        """``spec`` and ``spec.drivers`` are non-pointer, non-omitempty upstream: Go writes
        ``"drivers": null`` for none, which the official clients refuse, so we write []."""
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            spec = obj["spec"] = {}
        if spec.get("drivers") is None:
            spec["drivers"] = []

    def validate(self, ctx, obj):
        return validate_csi_node_drivers(_drivers(obj), allow_long_node_id=False)

    def validate_update(self, ctx, new, old):
        """The create checks (a long node ID is accepted when the old object already had
        one), then a driver entry present before and after may not change at all."""
        allow_long = any(len(str(d.get("nodeID") or "").encode()) > NODE_ID_MAX
                         for d in _drivers(old))
        errs = validate_csi_node_drivers(_drivers(new), allow_long_node_id=allow_long)
        for old_driver in _drivers(old):
            for new_driver in _drivers(new):
                if old_driver.get("name") == new_driver.get("name") and \
                        _normal(new_driver) != _normal(old_driver):
                    errs.append(errors.invalid("spec.drivers", _go_driver(new_driver),
                                               "field is immutable"))
        return errs

    def table_row(self, obj):
        return [obj["metadata"]["name"], len(_drivers(obj)), age(obj)]


def validate_csi_node_drivers(drivers: list, *, allow_long_node_id: bool) -> list:
    """``validateCSINodeDrivers``: each driver's name a CSI driver name and unique, a
    node ID, a non-negative allocatable count and valid, distinct topology keys."""
    errs, names = [], set()
    max_len = NODE_ID_LONGER_MAX if allow_long_node_id else NODE_ID_MAX
    for i, driver in enumerate(drivers):
        path = f"spec.drivers[{i}]"
        name = str(driver.get("name") or "")
        errs += validate_csi_driver_name(name, path + ".name")
        node_id = str(driver.get("nodeID") or "")
        if not node_id:
            errs.append(errors.required(path + ".nodeID"))
        if len(node_id.encode()) > max_len:
            errs.append(errors.invalid(path + ".nodeID", node_id,
                                       f"must be {max_len} characters or less"))
        count = (driver.get("allocatable") or {}).get("count")
        if isinstance(count, int):
            errs += validate_nonnegative(count, path + ".allocatable.count")
        if name in names:
            errs.append(errors.duplicate(path + ".name", name))
        names.add(name)
        keys = set()
        for key in driver.get("topologyKeys") or []:
            key = str(key)
            if not key:
                errs.append(errors.required(path))
            if key in keys:
                errs.append(errors.duplicate(path, key))
            keys.add(key)
            errs += [errors.invalid(path, key, m) for m in is_qualified_name(key)]
    return errs


def _drivers(obj: dict) -> list:
    return [d if isinstance(d, dict) else {} for d in (obj.get("spec") or {}).get("drivers") or []]


def _normal(driver: dict) -> dict:
    # semantic equality: an empty list or object is the same as none
    return {k: v for k, v in driver.items() if v not in (None, [], {})}


def _go_driver(driver: dict) -> GoText:
    """Go ``%#v`` of a ``storage.CSINodeDriver`` (the pointer's address is not shown)."""
    keys = driver.get("topologyKeys")
    shown_keys = "[]string(nil)" if keys is None else \
        "[]string{" + ", ".join(json.dumps(str(k)) for k in keys) + "}"
    alloc = driver.get("allocatable")
    shown_alloc = "(*storage.VolumeNodeResources)(nil)" if alloc is None else \
        f"&storage.VolumeNodeResources{{Count:{(alloc or {}).get('count')}}}"
    return GoText(f'storage.CSINodeDriver{{Name:{json.dumps(str(driver.get("name") or ""))}, '
                  f'NodeID:{json.dumps(str(driver.get("nodeID") or ""))}, '
                  f"TopologyKeys:{shown_keys}, Allocatable:{shown_alloc}}}")
