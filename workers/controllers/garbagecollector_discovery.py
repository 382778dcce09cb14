"""What the garbage collector learns from discovery: every resource it can collect, and the
kind → resource mapping it needs to read owners named only by apiVersion and kind.

Upstream: kube-controller-manager's garbage collector asks
``discovery.ServerPreferredResources`` for the resources supporting delete, list and watch
(``GetDeletableResources`` in pkg/controller/garbagecollector/garbagecollector.go), minus
its ignored resources (events), and resolves owner references through a discovery-backed
RESTMapper, which knows every served version, not only the preferred one.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass

from apiserver.client import ApiError

# upstream's DefaultIgnoredResources: events never own anything and churn constantly
IGNORED = frozenset({("", "events"), ("events.k8s.io", "events")})
NEEDED_VERBS = frozenset({"delete", "list", "watch"})


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    collectable: bool = True        # supports delete, list and watch

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def base(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    def collection(self) -> str:
        """The all-namespaces list/watch path."""
        return f"{self.base()}/{self.plural}"

    def path(self, namespace: str, name: str) -> str:
        ns = f"/namespaces/{namespace}" if self.namespaced else ""
        return f"{self.base()}{ns}/{self.plural}/{name}"


@dataclass(frozen=True)
class Discovery:
    """One discovery snapshot: ``watched`` (preferred versions, collectable) and
    ``by_kind`` ((apiVersion, kind) → Resource, every served version)."""

    watched: tuple[Resource, ...]
    by_kind: dict

    def resource_for(self, api_version: str, kind: str) -> Resource | None:
        return self.by_kind.get((api_version, kind))


def _resources(group: str, version: str, body: dict) -> list[Resource]:
    out = []
    for r in body.get("resources") or ():
        name = r.get("name", "")
        if name and "/" not in name:        # subresources are not objects of their own
            out.append(Resource(group, version, name, r.get("kind", ""),
                                bool(r.get("namespaced")),
                                NEEDED_VERBS <= set(r.get("verbs") or ())))
    return out


async def discover(client) -> Discovery:
    """Read /api and /apis and every group version they list.  A group version that fails
    (an aggregated API whose backend is down) is skipped, as upstream tolerates partial
    discovery failures; the next resync tries again."""
    versions: list[tuple[str, str, bool]] = []      # (group, version, preferred)
    core = await client.get("/api")
    for v in core.get("versions") or ():
        versions.append(("", v, v == (core.get("versions") or [""])[0]))
    groups = await client.get("/apis")
    for g in groups.get("groups") or ():
        preferred = (g.get("preferredVersion") or {}).get("version")
        for v in g.get("versions") or ():
            versions.append((g["name"], v["version"], v["version"] == preferred))

    async def one(group, version):
        path = f"/apis/{group}/{version}" if group else f"/api/{version}"
        try:
            return await client.get(path)
        except (ApiError, OSError, asyncio.TimeoutError):
            return None
    bodies = await asyncio.gather(*(one(g, v) for g, v, _ in versions))
    watched, by_kind = [], {}
    for (group, version, preferred), body in zip(versions, bodies):
        if body is None:
            continue
        for r in _resources(group, version, body):
            by_kind.setdefault((r.api_version, r.kind), r)
            if preferred and r.collectable and (group, r.plural) not in IGNORED:
                watched.append(r)
    return Discovery(tuple(watched), by_kind)
