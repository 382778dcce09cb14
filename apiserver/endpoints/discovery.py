"""Discovery: /api, /apis, /api/v1, /apis/<g>/<v> (legacy) and aggregated discovery.

kubectl decides between aggregated and legacy mode from the response Content-Type alone,
so the aggregated answer carries exactly ``application/json;g=apidiscovery.k8s.io;v=v2;
as=APIGroupDiscoveryList`` (API-CONTRACT.md §1.1, §2.1, §2.2).  The Scheme is fixed once the
server starts, so every document is built once and kept as bytes.
"""
from __future__ import annotations

import base64
import functools
import hashlib

import orjson
from django.http import HttpResponse
from rest_framework.views import APIView

from apiserver.endpoints.exceptions import as_api_error, status_response
from apiserver.runtime import errors
from apiserver.runtime.scheme import scheme

_SUBRESOURCE_KIND = {
    "status": None,                                   # same kind as the parent
    "scale": ("autoscaling", "v1", "Scale"),
}
_SUBRESOURCE_VERBS = {"status": ["get", "patch", "update"], "scale": ["get", "patch", "update"]}


def _storage_version_hash(s) -> str:
    digest = hashlib.sha256(f"{s.group}/{s.version}/{s.kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def _sub_info(s, sub: str):
    """(group, version, kind, verbs) of a subresource."""
    if sub in _SUBRESOURCE_KIND:
        target = _SUBRESOURCE_KIND[sub] or (s.group, s.version, s.kind)
        return (*target, _SUBRESOURCE_VERBS[sub])
    extra = getattr(s, "subresource_kinds", {}).get(sub)
    if extra:
        return extra
    return (s.group, s.version, s.kind, ["create"])


def resource_list(group: str, version: str) -> dict:
    resources = []
    for s in scheme.resources(group, version):
        entry = {"name": s.plural, "singularName": s.singular_name(), "namespaced": s.namespaced,
                 "kind": s.kind, "verbs": sorted(s.verbs)}
        if s.short_names:
            entry["shortNames"] = list(s.short_names)
        if s.categories:
            entry["categories"] = list(s.categories)
        entry["storageVersionHash"] = _storage_version_hash(s)
        resources.append(entry)
        for sub in s.subresources:
            g, v, kind, verbs = _sub_info(s, sub)
            sub_entry = {"name": f"{s.plural}/{sub}", "singularName": "", "namespaced": s.namespaced,
                         "kind": kind, "verbs": verbs}
            if (g, v) != (s.group, s.version):
                sub_entry["group"], sub_entry["version"] = g, v
            resources.append(sub_entry)
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
            "resources": resources}


def _aggregated_group(group: str) -> dict:
    versions = []
    for version in sorted(scheme.versions(group), key=_version_priority):
        resources = []
        for s in scheme.resources(group, version):
            entry = {"resource": s.plural, "singularResource": s.singular_name(),
                     "scope": "Namespaced" if s.namespaced else "Cluster",
                     "responseKind": {"group": "", "version": "", "kind": s.kind},
                     "verbs": sorted(s.verbs)}
            if s.short_names:
                entry["shortNames"] = list(s.short_names)
            if s.categories:
                entry["categories"] = list(s.categories)
            subs = []
            for sub in s.subresources:
                g, v, kind, verbs = _sub_info(s, sub)
                same = (g, v) == (s.group, s.version)
                subs.append({"subresource": sub,
                             "responseKind": {"group": "" if same else g,
                                              "version": "" if same else v, "kind": kind},
                             "verbs": verbs})
            if subs:
                entry["subresources"] = subs
            resources.append(entry)
        versions.append({"version": version, "resources": resources, "freshness": "Current"})
    meta = {"name": group} if group else {}
    return {"metadata": meta, "versions": versions}


def _version_priority(version: str):
    # GA before beta before alpha, higher numbers first (upstream version priority order)
    import re
    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not m:
        return (3, 0, 0, version)
    stage = {"": 0, "beta": 1, "alpha": 2}[m.group(2) or ""]
    return (stage, -int(m.group(1)), -int(m.group(3) or 0), version)


@functools.lru_cache(maxsize=None)
def aggregated(kind: str, version: str) -> tuple[bytes, str]:
    """(body, etag) of the aggregated document for /api (``kind`` "api") or /apis."""
    groups = [""] if kind == "api" else [g for g in scheme.groups() if g]
    body = orjson.dumps({"kind": "APIGroupDiscoveryList",
                         "apiVersion": f"apidiscovery.k8s.io/{version}", "metadata": {},
                         "items": [_aggregated_group(g) for g in groups]})
    return body, '"' + hashlib.sha512(body).hexdigest().upper() + '"'


@functools.lru_cache(maxsize=None)
def legacy(kind: str) -> bytes:
    if kind == "api":
        return orjson.dumps({"kind": "APIVersions", "versions": ["v1"],
                             "serverAddressByClientCIDRs": [
                                 {"clientCIDR": "0.0.0.0/0", "serverAddress": ""}]})
    groups = []
    for g in scheme.groups():
        if not g:
            continue
        versions = [{"groupVersion": f"{g}/{v}", "version": v}
                    for v in sorted(scheme.versions(g), key=_version_priority)]
        groups.append({"name": g, "versions": versions, "preferredVersion": versions[0]})
    return orjson.dumps({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})


def _aggregated_version(accept: str) -> str | None:
    for part in accept.split(","):
        p = part.replace(" ", "")
        if "as=APIGroupDiscoveryList" in p and "g=apidiscovery.k8s.io" in p:
            if "v=v2beta1" in p:
                return "v2beta1"
            if "v=v2" in p:
                return "v2"
        elif p.startswith(("application/json", "*/*")):
            return None
    return None


class DiscoveryRootView(APIView):
    """GET /api and /apis."""

    kind = "apis"

    def handle_exception(self, exc):
        return status_response(as_api_error(exc))

    def get(self, request, *args, **kwargs):
        version = _aggregated_version(request.META.get("HTTP_ACCEPT", ""))
        if version:
            body, etag = aggregated(self.kind, version)
            headers = {"ETag": etag, "Vary": "Accept", "Cache-Control": "public"}
            ctype = f"application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList"
            if request.META.get("HTTP_IF_NONE_MATCH") == etag:
                # kubectl's HTTP cache copies a 304's headers onto the cached answer: a 304
                # with Django's default text/html type turns it into "legacy" discovery.
                return HttpResponse(status=304, headers=headers, content_type=ctype)
            return HttpResponse(body, content_type=ctype, headers=headers)
        return HttpResponse(legacy(self.kind), content_type="application/json")


class GroupView(APIView):
    """GET /apis/<group> and /api/v1, /apis/<group>/<version>."""

    def handle_exception(self, exc):
        return status_response(as_api_error(exc))

    def get(self, request, group: str = "", version: str = ""):
        if version:
            if not scheme.resources(group, version):
                raise errors.NotFound("the server could not find the requested resource")
            return HttpResponse(_resource_list_bytes(group, version), content_type="application/json")
        versions = scheme.versions(group)
        if not versions:
            raise errors.NotFound("the server could not find the requested resource")
        vs = [{"groupVersion": f"{group}/{v}", "version": v}
              for v in sorted(versions, key=_version_priority)]
        return HttpResponse(orjson.dumps({"kind": "APIGroup", "apiVersion": "v1", "name": group,
                                          "versions": vs, "preferredVersion": vs[0]}),
                            content_type="application/json")


@functools.lru_cache(maxsize=None)
def _resource_list_bytes(group: str, version: str) -> bytes:
    return orjson.dumps(resource_list(group, version))
