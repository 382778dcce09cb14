"""Discovery: /api, /apis, /api/v1, /apis/<g>/<v> (legacy) and aggregated discovery.

kubectl decides between aggregated and legacy mode from the response Content-Type alone,
so the aggregated answer carries exactly ``application/json;g=apidiscovery.k8s.io;v=v2;
as=APIGroupDiscoveryList`` (kubernetes/client-go:discovery/aggregated_discovery.go).
:class:`DiscoveryDocuments` builds each document of one set of kinds once and keeps it as
bytes (a server builds new ones when its kinds change: custom resources); the views answer
from the documents of the server that serves the request (``scope["k8s.server"]``): the
head merges every server's groups, as upstream's aggregator does (kubernetes/kube-aggregator:pkg/apiserver/handler_discovery.go).
"""
from __future__ import annotations

import base64
import functools
import hashlib
import re
from dataclasses import dataclass

import orjson
from django.http import HttpResponse
from rest_framework.views import APIView

from apiserver.runtime import errors

_NOT_FOUND = "the server could not find the requested resource"


def _storage_version_hash(s) -> str:
    digest = hashlib.sha256(f"{s.group}/{s.version}/{s.kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def _sub_info(s, sub):
    """(group, version, kind, verbs) of a declared subresource."""
    g, v, kind = sub.kind or (s.group, s.version, s.kind)
    return g, v, kind, list(sub.verbs)


def version_priority(version: str):
    """GA before beta before alpha, higher numbers first (upstream version priority order,
    kubernetes/apimachinery:pkg/version/helpers.go ``CompareKubeAwareVersionStrings``)."""
    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not m:
        return (3, 0, 0, version)
    stage = {"": 0, "beta": 1, "alpha": 2}[m.group(2) or ""]
    return (stage, -int(m.group(1)), -int(m.group(3) or 0), version)


def _memoized(method):
    """Keep a document's answer on the instance (not in a process-wide cache: a server
    builds new documents whenever its kinds change, and old ones must be freed)."""
    @functools.wraps(method)
    def wrapper(self, *args):
        key = (method.__name__, *args)
        try:
            return self._memo[key]
        except KeyError:
            value = self._memo[key] = method(self, *args)
            return value
    return wrapper


@dataclass(frozen=True)
class RemoteVersion:
    """A group/version served by another server (an aggregated APIService's backend):
    its APIResourceList ``resources`` as the backend published them, or None while they
    could not be fetched (aggregated discovery then marks the version Stale)."""

    group: str
    version: str
    group_priority: int = 0
    resources: tuple | None = None


def _aggregated_remote(entries: list) -> list:
    """An APIResourceList's entries in aggregated form (subresources folded in)."""
    top, subs = {}, []
    for r in entries:
        name = r.get("name") or ""
        if "/" in name:
            subs.append(r)
            continue
        entry = {"resource": name, "singularResource": r.get("singularName") or "",
                 "scope": "Namespaced" if r.get("namespaced") else "Cluster",
                 "responseKind": {"group": r.get("group") or "", "version": r.get("version") or "",
                                  "kind": r.get("kind") or ""},
                 "verbs": list(r.get("verbs") or [])}
        for key in ("shortNames", "categories"):
            if r.get(key):
                entry[key] = list(r[key])
        top[name] = entry
    for r in subs:
        parent, _, sub = r["name"].partition("/")
        if parent in top:
            top[parent].setdefault("subresources", []).append({
                "subresource": sub, "responseKind": {"group": r.get("group") or "",
                                                     "version": r.get("version") or "",
                                                     "kind": r.get("kind") or ""},
                "verbs": list(r.get("verbs") or [])})
    return list(top.values())


class DiscoveryDocuments:
    """Every discovery document of one set of kinds (a Scheme index of strategies), plus
    the group/versions other servers serve behind the aggregator (``remote``)."""

    def __init__(self, index, remote=()):
        self.index = index
        self.remote = tuple(remote)
        self._memo: dict = {}

    def _remote_groups(self) -> dict:
        """group → its remote versions, in priority order then name (local groups win)."""
        out: dict = {}
        for r in sorted(self.remote, key=lambda r: (-r.group_priority, r.group)):
            if not self.index.versions(r.group):
                out.setdefault(r.group, []).append(r)
        return out

    def resource_list(self, group: str, version: str) -> dict:
        resources = []
        for s in self.index.resources(group, version):
            entry = {"name": s.plural, "singularName": s.singular_name(),
                     "namespaced": s.namespaced, "kind": s.kind, "verbs": sorted(s.verbs)}
            if s.short_names:
                entry["shortNames"] = list(s.short_names)
            if s.categories:
                entry["categories"] = list(s.categories)
            entry["storageVersionHash"] = _storage_version_hash(s)
            resources.append(entry)
            for sub in s.subresources:
                g, v, kind, verbs = _sub_info(s, sub)
                sub_entry = {"name": f"{s.plural}/{sub.name}", "singularName": "",
                             "namespaced": s.namespaced, "kind": kind, "verbs": verbs}
                if (g, v) != (s.group, s.version):
                    sub_entry["group"], sub_entry["version"] = g, v
                resources.append(sub_entry)
        gv = f"{group}/{version}" if group else version
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
                "resources": resources}

    def _aggregated_group(self, group: str) -> dict:
        versions = []
        for version in sorted(self.index.versions(group), key=version_priority):
            resources = []
            for s in self.index.resources(group, version):
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
                    subs.append({"subresource": sub.name,
                                 "responseKind": {"group": "" if same else g,
                                                  "version": "" if same else v, "kind": kind},
                                 "verbs": verbs})
                if subs:
                    entry["subresources"] = subs
                resources.append(entry)
            versions.append({"version": version, "resources": resources, "freshness": "Current"})
        meta = {"name": group} if group else {}
        return {"metadata": meta, "versions": versions}

    @_memoized
    def aggregated(self, kind: str, version: str) -> tuple[bytes, str]:
        """(body, etag) of the aggregated document for /api (``kind`` "api") or /apis."""
        groups = [""] if kind == "api" else [g for g in self.index.groups() if g]
        items = [self._aggregated_group(g) for g in groups]
        if kind != "api":
            for group, remote in self._remote_groups().items():
                versions = [{"version": r.version,
                             "resources": _aggregated_remote(r.resources or ()),
                             "freshness": "Current" if r.resources is not None else "Stale"}
                            for r in sorted(remote, key=lambda r: version_priority(r.version))]
                items.append({"metadata": {"name": group}, "versions": versions})
        body = orjson.dumps({"kind": "APIGroupDiscoveryList",
                             "apiVersion": f"apidiscovery.k8s.io/{version}", "metadata": {},
                             "items": items})
        return body, '"' + hashlib.sha512(body).hexdigest().upper() + '"'

    @_memoized
    def legacy(self, kind: str) -> bytes:
        if kind == "api":
            return orjson.dumps({"kind": "APIVersions", "versions": ["v1"],
                                 "serverAddressByClientCIDRs": [
                                     {"clientCIDR": "0.0.0.0/0", "serverAddress": ""}]})
        groups = []
        for g in self.index.groups():
            if not g:
                continue
            versions = [{"groupVersion": f"{g}/{v}", "version": v}
                        for v in sorted(self.index.versions(g), key=version_priority)]
            groups.append({"name": g, "versions": versions, "preferredVersion": versions[0]})
        for g, remote in self._remote_groups().items():
            versions = [{"groupVersion": f"{g}/{r.version}", "version": r.version}
                        for r in sorted(remote, key=lambda r: version_priority(r.version))]
            groups.append({"name": g, "versions": versions, "preferredVersion": versions[0]})
        return orjson.dumps({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})

    @_memoized
    def group(self, group: str) -> bytes | None:
        versions = self.index.versions(group) or \
            [r.version for r in self._remote_groups().get(group, ())]
        if not versions:
            return None
        vs = [{"groupVersion": f"{group}/{v}", "version": v}
              for v in sorted(versions, key=version_priority)]
        return orjson.dumps({"kind": "APIGroup", "apiVersion": "v1", "name": group,
                             "versions": vs, "preferredVersion": vs[0]})

    @_memoized
    def resource_list_bytes(self, group: str, version: str) -> bytes | None:
        if not self.index.resources(group, version):
            return None
        return orjson.dumps(self.resource_list(group, version))


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


def _documents(request) -> DiscoveryDocuments:
    return request._request.scope["k8s.server"].discovery


class DiscoveryRootView(APIView):
    """GET /api and /apis."""

    kind = "apis"

    def get(self, request, *args, **kwargs):
        docs = _documents(request)
        version = _aggregated_version(request.META.get("HTTP_ACCEPT", ""))
        if version:
            body, etag = docs.aggregated(self.kind, version)
            headers = {"ETag": etag, "Vary": "Accept", "Cache-Control": "public"}
            ctype = f"application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList"
            if request.META.get("HTTP_IF_NONE_MATCH") == etag:
                # kubectl's HTTP cache copies a 304's headers onto the cached answer: a 304
                # with Django's default text/html type turns it into "legacy" discovery.
                return HttpResponse(status=304, headers=headers, content_type=ctype)
            return HttpResponse(body, content_type=ctype, headers=headers)
        return HttpResponse(docs.legacy(self.kind), content_type="application/json")


class GroupView(APIView):
    """GET /apis/<group> and /api/v1, /apis/<group>/<version>."""

    def get(self, request, group: str = "", version: str = ""):
        docs = _documents(request)
        body = docs.resource_list_bytes(group, version) if version else docs.group(group)
        if body is None:
            raise errors.NotFound(_NOT_FOUND)
        return HttpResponse(body, content_type="application/json")
