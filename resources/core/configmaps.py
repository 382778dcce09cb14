"""core/v1 ConfigMap: data (UTF-8) and binaryData (base64), keys validated as upstream."""
from __future__ import annotations

import base64
import binascii

from apiserver.registry.printers import age
from apiserver.registry.strategy import AGE_COLUMN, NAME_COLUMN, Column, Strategy
from apiserver.runtime import errors
from apiserver.runtime.validation import is_config_map_key

MAX_TOTAL_BYTES = 1024 * 1024   # upstream core.MaxSecretSize, shared by ConfigMaps


class ConfigMapStrategy(Strategy):
    kind = "ConfigMap"
    plural = "configmaps"
    short_names = ("cm",)
    schema_name = "io.k8s.api.core.v1.ConfigMap"
    columns = (NAME_COLUMN, Column("Data", "integer", "", "Number of data items"), AGE_COLUMN)

    def validate(self, ctx, obj):
        errs, total, seen = [], 0, set()
        for field in ("data", "binaryData"):
            for key, value in (obj.get(field) or {}).items():
                path = f"{field}[{key}]"
                for msg in is_config_map_key(key):
                    errs.append(errors.invalid(path, key, msg))
                if key in seen:
                    errs.append(errors.invalid(path, key, "duplicate of key present in " +
                                               ("data" if field == "binaryData" else "binaryData")))
                seen.add(key)
                if not isinstance(value, str):
                    errs.append(errors.invalid(path, value, "must be a string"))
                    continue
                if field == "binaryData":
                    try:
                        total += len(base64.b64decode(value, validate=True))
                    except (binascii.Error, ValueError):
                        errs.append(errors.invalid(path, "<binary>", "illegal base64 data"))
                else:
                    total += len(value)
        if total > MAX_TOTAL_BYTES:
            errs.append(errors.too_long("", "", MAX_TOTAL_BYTES))
        return errs

    def table_row(self, obj):
        count = len(obj.get("data") or {}) + len(obj.get("binaryData") or {})
        return [obj["metadata"]["name"], count, age(obj)]
