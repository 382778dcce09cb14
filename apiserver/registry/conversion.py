"""One stored object served in several versions: a Store that converts.

Upstream keeps one storage version per resource and converts every request and answer
between it and the version the URL names (kubernetes/apiserver:pkg/endpoints/handlers/rest.go
through the scheme's conversion functions; e.g. kubernetes/kubernetes:pkg/apis/autoscaling/
v1/conversion.go for HorizontalPodAutoscalers).  Here a kind served in a non-storage version
declares ``storage_version = (group, version)`` on its Strategy and implements the two
conversion hooks (``convert_to_storage``, ``convert_from_storage``: pure functions on wire
dicts); the registry then serves it with a :class:`ConvertingStore` over the storage
version's own Store.  The storage version's Strategy runs every hook (defaults, validation,
admission) on the converted object, so both versions obey one set of rules and share one
row, one resourceVersion and one watch stream.

May import: apiserver.runtime, apiserver.openapi, apiserver.registry.
"""
from __future__ import annotations

import copy
import dataclasses

import orjson

from apiserver.openapi import definitions
from apiserver.runtime.errors import BadRequest
from apiserver.runtime.selectors import FieldSelector, parse_field_selector


class ConvertingStore:
    """The Store surface (get, list, create, update, guaranteed_update, delete,
    delete_collection, matcher, event lines) of ``inner`` seen in ``strategy``'s version."""

    def __init__(self, strategy, inner):
        self.strategy = strategy
        self.inner = inner
        self.storage = inner.storage
        self.stores = inner.stores
        self.admission = inner.admission
        self.resource = inner.resource
        self.schema = definitions.get(strategy.schema_name) if strategy.schema_name else None

    # ---- conversion ---------------------------------------------------------------------
    def to_storage(self, obj: dict) -> dict:
        out = self.strategy.convert_to_storage(copy.deepcopy(obj))
        s = self.inner.strategy
        out["apiVersion"], out["kind"] = s.api_version(), s.kind
        return out

    def from_storage(self, obj: dict) -> dict:
        out = self.strategy.convert_from_storage(copy.deepcopy(obj))
        out["apiVersion"], out["kind"] = self.strategy.api_version(), self.strategy.kind
        return out

    def _out(self, doc: str) -> str:
        return orjson.dumps(self.from_storage(orjson.loads(doc))).decode()

    def _out_many(self, docs: list[str]) -> list[str]:
        """A page of stored documents in this version, converted together (a conversion
        webhook gets one review per page, as upstream converts a list at once)."""
        objs = self.strategy.convert_many_from_storage([orjson.loads(d) for d in docs])
        out = []
        for obj in objs:
            obj["apiVersion"], obj["kind"] = self.strategy.api_version(), self.strategy.kind
            out.append(orjson.dumps(obj).decode())
        return out

    def _in(self, obj: dict, ctx) -> dict:
        """A request body in this version: unknown fields dropped (or refused) against this
        version's schema, then converted to the storage version."""
        self.inner.check_fields(obj, ctx, schema=self.schema, kind=self.strategy.kind,
                                version=self.strategy.version)
        return self.to_storage(obj)

    # ---- reads ----------------------------------------------------------------------------
    def get(self, namespace, name, resource_version=None) -> str:
        return self._out(self.inner.get(namespace, name, resource_version))

    def _fields(self, field_selector):
        """A field selector in this version's labels as the storage version's."""
        conversions = self.strategy.field_label_conversions
        if conversions is None or not field_selector:
            return field_selector
        terms = []
        for name, op, value in parse_field_selector(field_selector).requirements:
            if name not in conversions:
                raise BadRequest(f"field label not supported: {name}")
            terms.append((conversions[name], op, value))
        return FieldSelector(terms).to_string()

    def list(self, namespace, **kwargs) -> dict:
        if "field_selector" in kwargs:
            kwargs["field_selector"] = self._fields(kwargs["field_selector"])
        page = self.inner.list(namespace, **kwargs)
        return {**page, "items": self._out_many(page["items"]) if page["items"] else []}

    def matcher(self, label_selector, field_selector):
        return self.inner.matcher(label_selector, self._fields(field_selector))

    def field_set(self, obj: dict) -> dict:
        return self.inner.field_set(obj)

    def event_line(self, event_type: str, ev) -> bytes:
        return orjson.dumps({"type": event_type, "object": self.from_storage(ev.obj)}) + b"\n"

    def present(self, obj: dict) -> dict:
        """A stored object as this version shows it (watch Tables, watch events)."""
        return self.from_storage(obj)

    # ---- writes ---------------------------------------------------------------------------
    def _served(self, ctx):
        """Admission runs in the inner Store on the storage version's object; it is told
        which version the request named (RequestContext.served_as), on a copy of the
        context (warnings stay shared) so the caller's next write is not marked."""
        s = self.strategy
        return dataclasses.replace(ctx, served_as=(s.group, s.version, s.kind, s.plural),
                                   warnings=ctx.warnings)

    def create(self, namespace, obj: dict, ctx) -> str:
        ctx = self._served(ctx)
        return self._out(self.inner.create(namespace, self._in(obj, ctx), ctx))

    def update(self, namespace, name, obj: dict, ctx) -> tuple[str, bool]:
        ctx = self._served(ctx)
        doc, created = self.inner.update(namespace, name, self._in(obj, ctx), ctx)
        return self._out(doc), created

    def guaranteed_update(self, namespace, name, transform, ctx, **kwargs) -> tuple[str, bool]:
        """``transform`` works in this version: the current object is converted to it and
        the result back to the storage version."""
        def converted(current):
            new = transform(self.from_storage(current) if current is not None else None)
            return self._in(new, ctx) if isinstance(new, dict) else new
        ctx = self._served(ctx)
        doc, created = self.inner.guaranteed_update(namespace, name, converted, ctx, **kwargs)
        return self._out(doc), created

    def delete(self, namespace, name, options: dict, ctx) -> tuple[str, bool]:
        doc, gone = self.inner.delete(namespace, name, options, self._served(ctx))
        return self._out(doc), gone

    def delete_collection(self, namespace, options: dict, ctx, **kwargs) -> list[str]:
        if "field_selector" in kwargs:
            kwargs["field_selector"] = self._fields(kwargs["field_selector"])
        return self._out_many(self.inner.delete_collection(namespace, options,
                                                           self._served(ctx), **kwargs))
