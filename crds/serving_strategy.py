"""One Strategy class per served version of a CustomResourceDefinition.

Upstream serves each version of a CRD through its own REST storage over one etcd prefix
(kubernetes/apiextensions-apiserver:pkg/apiserver/customresource_handler.go
``getOrCreateServingInfoFor``) with the strategy of pkg/registry/customresource/strategy.go:
names from ``status.acceptedNames``, scope, subresources (status, scale), printer columns,
selectable fields, ``AllowUnconditionalUpdate`` false, generation bumped by changes outside
metadata (and status, when the status subresource is on), and a terminating definition
refusing creates.  Here the versions share one stored row through the generic Store: the
storage version's class is served by a plain Store, every other served version declares
``storage_version`` and is a ConvertingStore over it whose conversion (strategy None) only
rewrites ``apiVersion`` (apiserver/registry/conversion.py) or, with strategy Webhook,
asks the definition's webhook (crds/conversion.py).

Schema work (pruning, defaulting, validation) is helper ``crds.schema``'s; it is imported
lazily so serving works without it (then nothing is pruned, defaulted or validated beyond
ObjectMeta).  Its contract: ``validate(schema, obj, old=None) -> [FieldError]`` (the
whole object: a schema may restrict ``metadata.name`` and CEL rules see ``self.metadata``),
``validate_status(schema, obj, old)`` for ``/status`` writes when it has one,
``prune(schema, obj) -> [removed paths]`` (in place) and ``apply_defaults(schema, obj)``.
Pruning and defaulting get the object without ``apiVersion``, ``kind`` and ``metadata``
(the generic Store owns those; upstream's pruning keeps them too).

Every version's body is pruned, defaulted and validated against that version's schema,
as upstream (which validates in the request version): the storage version's hooks run on
the converted body, which remembers the version it was sent in (:class:`InVersion`).

May import: apiserver.registry, apiserver.runtime, apiserver.endpoints.discovery (version
order), crds.conversion, crds.serving_columns, crds.serving_openapi.
"""
from __future__ import annotations

import importlib

import orjson

from apiserver.endpoints.discovery import version_priority
from apiserver.registry.initializer import WantsStores
from apiserver.registry.strategy import STATUS, Scale, Strategy
from apiserver.runtime import errors

from .conversion import NoneConverter, WebhookConverter
from .serving_columns import PrinterColumns, find, parse_path
from .serving_openapi import kind_schema

_OWNED = ("apiVersion", "kind", "metadata")


def schema_api():
    """``crds.schema`` when it is there (helper C's module), else None."""
    try:
        api = importlib.import_module("crds.schema")
    except ImportError:
        return None
    if not all(hasattr(api, n) for n in ("validate", "prune", "apply_defaults")):
        return None
    return api


class InVersion(dict):
    """A body converted to the storage version that remembers the version it was sent in
    (``served_version``), so the storage version's hooks pick that version's schema."""

    __slots__ = ("served_version",)


def _split_owned(obj: dict) -> dict:
    return {k: obj.pop(k) for k in _OWNED if k in obj}


class CustomResourceStrategy(Strategy, WantsStores):
    """Base of every generated custom resource class.  Declarations are filled per version
    by :func:`strategies_for`; hooks read them."""

    allow_unconditional_update = False     # upstream: PUT must carry metadata.resourceVersion
    tracks_generation = True
    strategic_merge_patch = False          # read by apiserver.endpoints.patching (415)
    kube_finalizer_names = False           # apiextensions-apiserver validates ObjectMeta
    #                                        generically (no kube-only finalizer names)
    crd_name = ""
    terminating = False
    schema = None                          # this version's openAPIV3Schema
    version_schemas: dict = None           # every served version's, by version name
    printer: PrinterColumns = None
    openapi_schema = None                  # published in /openapi/v3 (kubectl explain)
    list_kind_name = ""
    deprecation_warnings: tuple = ()       # sent with every answer (apiserver.endpoints.handlers)
    conversion_webhook: dict = None        # spec.conversion.webhook of strategy Webhook
    has_defaults = False                   # this version's schema declares a default

    @classmethod
    def list_kind(cls) -> str:
        return cls.list_kind_name or cls.kind + "List"

    # ---- schema hooks -------------------------------------------------------------------
    def drop_unknown_fields(self, obj: dict, version: str) -> list[str]:
        """Called by the Store on every decoded body (in the version it was sent in)
        before defaults and admission: prune what ``version``'s schema does not describe
        and return the removed paths (the Store turns them into warnings or, with
        ``fieldValidation=Strict``, a 400)."""
        api = schema_api()
        schema = (self.version_schemas or {}).get(version, self.schema)
        if api is None or not isinstance(schema, dict) or not isinstance(obj, dict):
            return []
        owned = _split_owned(obj)
        try:
            return list(api.prune(schema, obj) or ())
        finally:
            obj.update(owned)

    def schema_for(self, obj: dict):
        """The schema ``obj`` is checked against: that of the version it was sent in."""
        version = getattr(obj, "served_version", None)
        return (self.version_schemas or {}).get(version, self.schema) if version else self.schema

    def default(self, obj: dict) -> None:
        """Schema defaults (upstream applies them on decode and on read)."""
        api = schema_api()
        schema = self.schema_for(obj)
        if api is None or not isinstance(schema, dict):
            return
        owned = _split_owned(obj)
        try:
            api.apply_defaults(schema, obj)
        finally:
            obj.update(owned)

    def _schema_errors(self, obj: dict, old: dict | None, *, status: bool = False) -> list:
        api = schema_api()
        schema = self.schema_for(obj)
        if api is None or not isinstance(schema, dict):
            return []
        if status and hasattr(api, "validate_status"):
            return list(api.validate_status(schema, obj, old) or ())
        return list(api.validate(schema, obj, old) or ())

    # ---- conversion (crds.conversion) ---------------------------------------------------
    def set_stores(self, stores) -> None:
        """WantsStores: a conversion webhook's service is resolved through the registry."""
        self._stores = stores

    @property
    def converter(self):
        if self.__dict__.get("_converter") is None:
            self._converter = (WebhookConverter(self.crd_name, self.conversion_webhook,
                                                self.__dict__.get("_stores"))
                               if self.conversion_webhook is not None else NoneConverter())
        return self._converter

    def convert_to_storage(self, obj: dict) -> dict:
        """Strategy None: the same body, which remembers its version so the storage
        version's hooks use that version's schema.  Webhook: the webhook's storage-version
        body, checked against the storage version's schema (its shape is that version's)."""
        if self.conversion_webhook is None:
            out = InVersion(obj)
            out.served_version = self.version
            return out
        group, version = self.storage_version
        return self.converter.convert([obj], f"{group}/{version}")[0]

    def convert_from_storage(self, obj: dict) -> dict:
        return self.convert_many_from_storage([obj])[0]

    def decode_stored(self, objs: list[dict]) -> list[dict]:
        """Stored objects as the storage version reads them: those an earlier storage
        version wrote converted, then this version's schema defaults applied (upstream
        defaults what it reads from storage, without writing it back)."""
        api_version = self.api_version()
        stale = [i for i, obj in enumerate(objs) if obj.get("apiVersion") != api_version]
        if stale:
            converted = self.converter.convert([objs[i] for i in stale], api_version)
            for i, obj in zip(stale, converted):
                obj["kind"] = self.kind
                objs[i] = obj
        return self._defaulted(objs)

    def convert_many_from_storage(self, objs: list[dict]) -> list[dict]:
        """Stored objects in this version: converted (strategy None: the ConvertingStore
        sets apiVersion), then this version's defaults, as upstream's codec applies the
        defaults of the version it decodes into."""
        if self.conversion_webhook is not None:
            objs = self.converter.convert(objs, self.api_version())
        return self._defaulted(objs)

    def _defaulted(self, objs: list[dict]) -> list[dict]:
        if self.has_defaults:
            for obj in objs:
                self.default(obj)
        return objs

    # ---- lifecycle hooks --------------------------------------------------------------------
    def prepare_for_create(self, ctx, obj: dict) -> None:
        if self.terminating:
            # upstream crdHandler.serveResource refuses creates for a terminating definition
            raise errors.MethodNotAllowed(
                "create not allowed while custom resource definition is terminating")
        super().prepare_for_create(ctx, obj)

    def validate(self, ctx, obj: dict) -> list:
        return self._schema_errors(obj, None)

    def validate_update(self, ctx, new: dict, old: dict) -> list:
        return self._schema_errors(new, old)

    def validate_status_update(self, ctx, new: dict, old: dict) -> list:
        return self._schema_errors(new, old, status=True)

    def table_row(self, obj: dict) -> list:
        return self.printer.row(obj)


# ---- building the classes --------------------------------------------------------------------

def is_established(crd: dict) -> bool:
    for cond in ((crd.get("status") or {}).get("conditions") or ()):
        if isinstance(cond, dict) and cond.get("type") == "Established":
            return cond.get("status") == "True"
    return False


def names_of(crd: dict) -> dict:
    """The names served: ``status.acceptedNames`` (what the naming controller accepted, as
    upstream serves), else ``spec.names``."""
    accepted = (crd.get("status") or {}).get("acceptedNames") or {}
    spec_names = (crd.get("spec") or {}).get("names") or {}
    return accepted if accepted.get("plural") and accepted.get("kind") else spec_names


def _storage_name(versions: list, served: list) -> str:
    stored = next((v["name"] for v in versions if v.get("storage")), versions[0]["name"])
    if stored not in {v["name"] for v in served} and served:
        # a storage version that is not served: the first served version holds the row
        # (documented deviation: upstream would keep writing the storage version)
        stored = served[0]["name"]
    return stored


def _mixed(crd: dict) -> bool:
    """Whether objects may be stored in a version other than today's storage version:
    ``status.storedVersions`` names every version objects were ever written in, as
    upstream keeps it."""
    versions = [v for v in (crd.get("spec") or {}).get("versions") or ()
                if isinstance(v, dict) and v.get("name")]
    if not versions:
        return False
    stored = _storage_name(versions, [v for v in versions if v.get("served")])
    return any(v != stored for v in (crd.get("status") or {}).get("storedVersions") or ())


def _has_defaults(schema) -> bool:
    """Whether a schema may default anything (a property named ``default`` also counts:
    that only costs a defaulting pass that changes nothing)."""
    return isinstance(schema, dict) and b'"default":' in orjson.dumps(schema)


def fingerprint(crd: dict) -> bytes:
    """What the served classes depend on: a change of it means re-installing."""
    m = crd.get("metadata") or {}
    return orjson.dumps({"spec": crd.get("spec"), "names": names_of(crd),
                         "terminating": bool(m.get("deletionTimestamp")),
                         "mixed": _mixed(crd)},
                        option=orjson.OPT_SORT_KEYS)


def _dotted(path: str | None) -> str:
    """A ``.spec.replicas`` JSON path as the Scale declaration's ``spec.replicas``."""
    return (path or "").strip().lstrip(".")


def _scale(sub: dict) -> Scale:
    return Scale(spec_replicas=_dotted(sub.get("specReplicasPath")),
                 status_replicas=_dotted(sub.get("statusReplicasPath")),
                 label_selector=_dotted(sub.get("labelSelectorPath")))


def _field_getter(steps: list):
    def get(obj: dict):
        found = find(obj, steps)
        if not found or isinstance(found[0], (dict, list)) or found[0] is None:
            return ""
        value = found[0]
        return ("true" if value else "false") if isinstance(value, bool) else str(value)
    return get


def _selectable(version: dict) -> dict:
    fields = {}
    for item in version.get("selectableFields") or ():
        path = item.get("jsonPath", "") if isinstance(item, dict) else ""
        try:
            steps = parse_path(path)
        except ValueError:
            continue
        fields[_dotted(path)] = _field_getter(steps)
    return fields


def _deprecation(version: dict, served: list, group: str, kind: str) -> tuple:
    """The warning a deprecated version sends with every answer: its own
    ``deprecationWarning``, else upstream's ``defaultDeprecationWarning`` (naming the most
    preferred served, non-deprecated version newer than it)."""
    if not version.get("deprecated"):
        return ()
    if isinstance(version.get("deprecationWarning"), str):
        return (version["deprecationWarning"],)
    name = version["name"]
    text = f"{group}/{name} {kind} is deprecated"
    newer = [v["name"] for v in served if not v.get("deprecated")
             and version_priority(v["name"]) < version_priority(name)]
    if newer:
        text += f"; use {group}/{min(newer, key=version_priority)} {kind}"
    return (text,)


def _ident(text: str) -> str:
    return "".join(ch for ch in text.title() if ch.isalnum())


def strategies_for(crd: dict) -> list[type]:
    """One Strategy class per served version, the storage version's first (others convert
    through it).  Empty when the definition is unusable (no group, names or versions)."""
    spec = crd.get("spec") or {}
    names = names_of(crd)
    group, kind, plural = spec.get("group"), names.get("kind"), names.get("plural")
    versions = [v for v in spec.get("versions") or () if isinstance(v, dict) and v.get("name")]
    if not (group and kind and plural and versions):
        return []
    served = [v for v in versions if v.get("served")]
    stored = _storage_name(versions, served)
    mixed = _mixed(crd)
    schemas = {v["name"]: ((v.get("schema") or {}).get("openAPIV3Schema")) for v in served}
    terminating = bool((crd.get("metadata") or {}).get("deletionTimestamp"))
    conversion = spec.get("conversion") or {}
    webhook = (conversion.get("webhook") or {}) if conversion.get("strategy") == "Webhook" \
        else None
    out = []
    for v in sorted(served, key=lambda v: v["name"] != stored):
        subs = v.get("subresources") or {}
        declared = []
        if isinstance(subs.get("status"), dict):
            declared.append(STATUS)
        if isinstance(subs.get("scale"), dict):
            declared.append(_scale(subs["scale"]))
        printer = PrinterColumns(v.get("additionalPrinterColumns"))
        attrs = {
            "__module__": __name__,
            "group": group, "version": v["name"], "kind": kind, "plural": plural,
            "singular": names.get("singular") or kind.lower(),
            "list_kind_name": names.get("listKind") or "",
            "namespaced": spec.get("scope", "Namespaced") != "Cluster",
            "short_names": tuple(names.get("shortNames") or ()),
            "categories": tuple(names.get("categories") or ()),
            "subresources": tuple(declared),
            "columns": tuple(printer.columns), "printer": printer,
            "selectable_fields": _selectable(v),
            "storage_version": None if v["name"] == stored else (group, stored),
            "generation_ignores": ("metadata", "apiVersion", "kind")
            + (("status",) if STATUS in declared else ()),
            "deprecation_warnings": _deprecation(v, served, group, kind),
            "crd_name": (crd.get("metadata") or {}).get("name", ""),
            "terminating": terminating,
            "conversion_webhook": webhook,
            "has_defaults": _has_defaults(schemas.get(v["name"])),
            "decodes_stored": v["name"] == stored and (
                mixed or _has_defaults(schemas.get(v["name"]))),
            "schema": schemas.get(v["name"]), "version_schemas": schemas,
            "openapi_schema": kind_schema(group, v["name"], kind, schemas.get(v["name"])),
        }
        name = f"{_ident(kind)}{_ident(v['name'])}Strategy"
        attrs["__qualname__"] = name
        out.append(type(name, (CustomResourceStrategy,), attrs))
    return out
