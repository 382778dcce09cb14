"""Request info: what a URL names (verb, group, version, namespace, resource, name, subresource).

A mirror of upstream ``k8s.io/apiserver/pkg/endpoints/request/requestinfo.go``: the filter
parses once and stores the result in ``scope["k8s.request_info"]``; authorization and the
handlers read it from there.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qs

from apiserver.runtime.selectors import parse_field_selector, query_bool
from apiserver.runtime.validation import is_path_segment_name

_NAMESPACE_SUBRESOURCES = ("status", "finalize")


@dataclass
class RequestInfo:
    is_resource_request: bool = False
    path: str = ""
    verb: str = ""
    api_prefix: str = ""
    api_group: str = ""
    api_version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    parts: list = field(default_factory=list)
    query: dict = field(default_factory=dict)

    def q(self, key: str, default: str | None = None) -> str | None:
        values = self.query.get(key)
        return values[0] if values else default

    @property
    def url_name(self) -> str:
        """The object name the URL path itself names ("" for a collection).  ``name`` may
        also come from a list's ``metadata.name`` field selector (for authorization)."""
        return self.parts[1] if len(self.parts) >= 2 else ""


def parse_request_info(method: str, path: str, query_string: str) -> RequestInfo:
    query = parse_qs(query_string, keep_blank_values=True)
    info = RequestInfo(path=path, query=query, verb=method.lower())
    parts = [p for p in path.strip("/").split("/")] if path.strip("/") else []
    if len(parts) < 2 or parts[0] not in ("api", "apis"):
        return info
    info.api_prefix = parts[0]
    parts = parts[1:]
    if info.api_prefix == "apis":
        if len(parts) < 2:
            return info                      # /apis/<group>: discovery, not a resource
        info.api_group, parts = parts[0], parts[1:]
    info.api_version, parts = parts[0], parts[1:]
    if not parts:
        return info
    info.is_resource_request = True
    watch_prefix = False
    if parts[0] == "watch":                  # legacy /api/v1/watch/... paths
        watch_prefix, parts = True, parts[1:]
        if not parts:
            info.is_resource_request = False
            return info
    if parts[0] == "namespaces" and len(parts) > 1:
        info.namespace = parts[1]
        if len(parts) > 2 and parts[2] not in _NAMESPACE_SUBRESOURCES:
            parts = parts[2:]
    info.parts = parts
    info.resource = parts[0]
    if len(parts) >= 2:
        info.name = parts[1]
    if len(parts) >= 3:
        info.subresource = parts[2]
    method = method.upper()
    watching = watch_prefix or _flag(query, "watch")
    if method in ("GET", "HEAD"):
        info.verb = "watch" if watching else ("get" if info.name else "list")
    elif method == "POST":
        info.verb = "create"
    elif method == "PUT":
        info.verb = "update"
    elif method == "PATCH":
        info.verb = "patch"
    elif method == "DELETE":
        info.verb = "delete" if info.name else "deletecollection"
    if info.resource == "namespaces":
        # /api/v1/namespaces/{name} is the namespace itself; it is not "in" a namespace
        info.namespace = info.name if info.name else ""
    if info.verb in ("list", "watch") and not info.name:
        # a list or watch requiring metadata.name=X is about X, so authorization can match
        # resourceNames (upstream requestinfo.go, ``RequiresExactMatch("metadata.name")``)
        info.name = _selected_name(query)
    return info


def _flag(query: dict, key: str) -> bool:
    """A boolean query parameter as upstream decodes it: absent, "0" or any-case "false"
    is false; anything else, the empty value included, is true."""
    return query_bool(query.get(key))


def _selected_name(query: dict) -> str:
    values = query.get("fieldSelector")
    if not values:
        return ""
    try:
        selector = parse_field_selector(values[0])
    except Exception:       # a malformed selector is the list's own 400, not ours
        return ""
    names = [v for label, op, v in selector.requirements
             if label == "metadata.name" and op in ("=", "==")]
    if len(names) != 1 or is_path_segment_name(names[0]):
        return ""
    return names[0]


class RequestInfoFilter:
    """Parse the URL once; everything downstream reads ``scope["k8s.request_info"]``."""

    def __init__(self, app):
        self.app = app

    # A plain function returning the next app's coroutine (a tail call): a watch that
    # stays open for an hour then holds no suspended frame of this filter.
    def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket"):
            qs = scope.get("query_string", b"").decode("latin-1")
            scope["k8s.request_info"] = parse_request_info(scope.get("method", "GET"),
                                                           scope["path"], qs)
        return self.app(scope, receive, send)
