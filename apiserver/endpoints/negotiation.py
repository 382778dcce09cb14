"""Content negotiation: which encoding a response uses, and Table rendering.

DRF's own renderers and negotiation are bypassed (``PassthroughRenderer``/``NoNegotiation``):
the views already hold JSON bytes, usually straight from storage, and re-encoding them
would cost more than the rest of the request.
"""
from __future__ import annotations

import orjson
from django.http import HttpResponse
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import BaseRenderer

from apiserver.registry.strategy import Column
from apiserver.runtime.errors import BadRequest, NotAcceptable
from apiserver.runtime.serialization import dumps_yaml

JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"


class PassthroughRenderer(BaseRenderer):
    media_type = JSON
    format = "json"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data if isinstance(data, (bytes, str)) else orjson.dumps(data)


class NoNegotiation(BaseContentNegotiation):
    def select_parser(self, request, parsers):
        return None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def wants_table(accept: str) -> bool:
    """True when the client's first acceptable type is a meta.k8s.io Table."""
    for part in accept.split(","):
        p = part.replace(" ", "")
        if "as=Table" in p and "g=meta.k8s.io" in p:
            return True
        if p.startswith(("application/json", "*/*", "application/yaml")):
            return False
    return False


def response_format(accept: str) -> str:
    """'json' or 'yaml'; 406 when only protobuf (or nothing we speak) is acceptable."""
    if not accept:
        return "json"
    usable = False
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        if media in ("application/json", "*/*", "application/*", "application/json-patch+json",
                     "application/merge-patch+json"):
            return "json"
        if media in ("application/yaml", "text/yaml"):
            return "yaml"
        if media == PROTOBUF:
            continue
        usable = usable or not media
    if usable:
        return "json"
    raise NotAcceptable(f"only the following media types are accepted: {JSON}, {YAML}")


def respond(body, status: int = 200, accept: str = "", warnings=()) -> HttpResponse:
    """An object response: ``body`` is JSON text/bytes or a dict."""
    fmt = response_format(accept)
    if fmt == "yaml":
        data = body if isinstance(body, dict) else orjson.loads(body)
        resp = HttpResponse(dumps_yaml(data), status=status, content_type=YAML)
    else:
        if isinstance(body, dict):
            body = orjson.dumps(body)
        resp = HttpResponse(body, status=status, content_type=JSON)
    for text in warnings:
        resp.headers.setdefault("Warning", "")
        resp.headers["Warning"] = ", ".join(filter(None, [resp.headers["Warning"],
                                                           warning_header(text)]))
    return resp


def warning_header(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'299 - "{escaped}"'


def list_body(strategy, page: dict) -> bytes:
    """A ``<Kind>List`` whose items are the stored documents, joined without re-encoding."""
    meta = {"resourceVersion": str(page["resourceVersion"])}
    if page.get("continue"):
        meta["continue"] = page["continue"]
    if page.get("remainingItemCount") is not None:
        meta["remainingItemCount"] = page["remainingItemCount"]
    head = orjson.dumps({"kind": strategy.list_kind(), "apiVersion": strategy.api_version(),
                         "metadata": meta})
    items = ",".join(page["items"]).encode()
    return head[:-1] + b',"items":[' + items + b"]}"


def _partial_meta(obj: dict) -> dict:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata", {})}


# TableOptions.includeObject (apimachinery pkg/apis/meta/v1/types.go IncludeObjectPolicy):
# what each row's ``object`` holds; Metadata is the default
INCLUDE_OBJECT = ("Metadata", "Object", "None")


def include_object(value: str | None) -> str:
    """The row-object policy of a ``?includeObject=`` value; 400 with upstream's text
    (ValidateTableOptions, via asTable's NewBadRequest) for any other value."""
    if not value:
        return "Metadata"
    if value not in INCLUDE_OBJECT:
        raise BadRequest(f'includeObject: Invalid value: "{value}": must be \'Metadata\', '
                         "'Object', 'None', or empty")
    return value


def _row_object(obj: dict, include: str) -> dict | None:
    if include == "Object":
        return obj                   # the object itself, in the version the request named
    if include == "None":
        return None
    return _partial_meta(obj)


def table(strategy, objects: list[dict], resource_version: str = "", cont: str = "",
          include_headers: bool = True, include: str = "Metadata") -> dict:
    """A ``meta.k8s.io/v1`` Table of ``objects`` using the kind's columns; ``include`` is
    the row objects' policy (:func:`include_object`), as upstream's ``asTable``."""
    rows = [{"cells": strategy.table_row(o), "object": _row_object(o, include)}
            for o in objects]
    meta = {"resourceVersion": resource_version}
    if cont:
        meta["continue"] = cont
    out = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta}
    if include_headers:
        out["columnDefinitions"] = [c.to_dict() if isinstance(c, Column) else c
                                    for c in strategy.columns]
    out["rows"] = rows
    return out
