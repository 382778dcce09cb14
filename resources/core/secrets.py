"""core/v1 Secret: base64 data, ``stringData`` folded into ``data``, typed secrets.

Upstream: the v1→internal conversion merges ``stringData`` into ``data`` (stringData wins)
and the internal type has no stringData, so it is never stored; ``SetDefaults_Secret``
(type Opaque); ``ValidateSecret`` (keys, 1 MiB total, the per-type required keys) and
``ValidateSecretUpdate`` (type immutable; ``immutable: true`` freezes data and itself);
``printSecret``.  Illegal base64 in ``data`` is a 422 here, like ConfigMap ``binaryData``
(upstream rejects it while decoding, with a 400).
"""
from __future__ import annotations

import base64
import binascii
import json

from apiserver.registry.printers import age
from apiserver.registry.strategy import Strategy
from apiserver.runtime import errors
from apiserver.runtime.validation import is_config_map_key

from .columns import column

_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
MAX_SECRET_SIZE = 1024 * 1024
IMMUTABLE = "field is immutable when `immutable` is set"
# type -> keys of which at least one (basic-auth) or each (others) must be present
REQUIRED_KEYS = {
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
    "kubernetes.io/tls": ("tls.key", "tls.crt"),
}
SA_NAME_ANNOTATION = "kubernetes.io/service-account.name"


class SecretStrategy(Strategy):
    kind = "Secret"
    plural = "secrets"
    schema_name = "io.k8s.api.core.v1.Secret"
    selectable_fields = {"type": lambda o: o.get("type") or ""}
    columns = (column("Name", _META, "name", format="name"),
               column("Type", "Secret", "type"),
               column("Data", "Secret", "data"),
               column("Age", _META, "creationTimestamp"))

    def default(self, obj):
        """Type defaults to Opaque; ``stringData`` entries become base64 ``data`` entries
        (overriding same-named keys) and ``stringData`` is dropped."""
        if not obj.get("type"):
            obj["type"] = "Opaque"
        string_data = obj.pop("stringData", None)
        if isinstance(string_data, dict) and string_data:
            data = obj.get("data") if isinstance(obj.get("data"), dict) else {}
            for key, value in string_data.items():
                data[key] = base64.b64encode(str(value).encode("utf-8")).decode("ascii")
            obj["data"] = data

    def validate(self, ctx, obj):
        errs, total = [], 0
        data = obj.get("data") if isinstance(obj.get("data"), dict) else {}
        decoded = {}
        for key in sorted(data):
            path = f"data[{key}]"
            errs += [errors.invalid(path, key, m) for m in is_config_map_key(key)]
            value = data[key]
            try:
                raw = base64.b64decode(value if isinstance(value, str) else b"!", validate=True)
            except (binascii.Error, ValueError):
                errs.append(errors.invalid(path, "<secret contents redacted>", "illegal base64 data"))
                continue
            decoded[key] = raw
            total += len(raw)
        if total > MAX_SECRET_SIZE:
            errs.append(errors.too_long("data", "", MAX_SECRET_SIZE))
        errs += _validate_type(obj, decoded)
        return errs

    def validate_update(self, ctx, new, old):
        errs = self.validate(ctx, new)
        if (new.get("type") or "") != (old.get("type") or ""):
            errs.append(errors.immutable("type", new.get("type") or ""))
        if old.get("immutable") is True:
            if new.get("immutable") is not True:
                errs.append(errors.forbidden("immutable", IMMUTABLE))
            if (new.get("data") or {}) != (old.get("data") or {}):
                errs.append(errors.forbidden("data", IMMUTABLE))
        return errs

    def table_row(self, obj):
        return [obj["metadata"].get("name", ""), obj.get("type", ""),
                len(obj.get("data") or {}), age(obj)]


def _validate_type(obj: dict, data: dict) -> list:
    """The per-type rules of upstream ``ValidateSecret``."""
    kind = obj.get("type") or ""
    errs = []
    if kind == "kubernetes.io/service-account-token":
        if not ((obj.get("metadata") or {}).get("annotations") or {}).get(SA_NAME_ANNOTATION):
            errs.append(errors.required(f"metadata.annotations[{SA_NAME_ANNOTATION}]"))
    elif kind == "kubernetes.io/basic-auth":
        if "username" not in data and "password" not in data:
            errs += [errors.required("data[username]"), errors.required("data[password]")]
    elif kind in REQUIRED_KEYS:
        for key in REQUIRED_KEYS[kind]:
            if key not in data:
                errs.append(errors.required(f"data[{key}]"))
        if kind in ("kubernetes.io/dockercfg", "kubernetes.io/dockerconfigjson"):
            key = REQUIRED_KEYS[kind][0]
            if key in data:
                try:
                    json.loads(data[key])
                except ValueError as exc:
                    errs.append(errors.invalid(f"data[{key}]", "<secret contents redacted>", str(exc)))
    return errs
