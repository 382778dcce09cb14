"""The Scheme: every served kind, keyed by group/version/resource and group/version/kind.

Apps fill the process's registry, :data:`scheme`, from ``AppConfig.ready()`` with
:meth:`Scheme.register`; it refuses a second registration of the same resource or kind,
naming both parties.  It is a registry of declarations, filled before any server exists and
read-only afterwards (like upstream's ``legacyscheme.Scheme``): each server builds its own
strategy instances from these classes and indexes them in a ``Scheme`` of its own
(:meth:`Scheme.add`), which discovery and OpenAPI read.
Upstream: kubernetes/apimachinery:pkg/runtime/scheme.go and the RESTMapper.

May import: nothing of the apiserver.
"""
from __future__ import annotations

from dataclasses import dataclass


class DuplicateRegistration(Exception):
    pass


@dataclass(frozen=True)
class GroupVersionResource:
    group: str
    version: str
    resource: str


class Scheme:
    """Kinds by resource and by kind.  A server's index may change while serving (custom
    resources come and go): every change replaces the dicts (copy on write, so readers on
    other threads never see one mid-change) and bumps :attr:`generation`, which documents
    built from the index (discovery, OpenAPI) compare to know they are stale."""

    def __init__(self):
        self._by_resource: dict[tuple[str, str, str], object] = {}
        self._by_kind: dict[tuple[str, str, str], object] = {}
        self._group_priority: dict[str, int] = {}
        self._sources: dict[str, list] = {}
        self.generation = 0

    def register(self, strategy_cls, *, group_priority: int = 0):
        """Register one kind.  ``group_priority`` orders groups in discovery (higher first)."""
        if not strategy_cls.kind or not strategy_cls.plural:
            raise DuplicateRegistration(f"{strategy_cls.__module__}.{strategy_cls.__name__}: "
                                        "kind and plural are required")
        self.add(strategy_cls(), group_priority=group_priority)
        return strategy_cls

    def add(self, instance, *, group_priority: int = 0) -> None:
        """Index one strategy instance (a server indexes the instances it serves this way)."""
        strategy_cls = type(instance)
        key = (strategy_cls.group, strategy_cls.version, strategy_cls.plural)
        kkey = (strategy_cls.group, strategy_cls.version, strategy_cls.kind)
        for index, k in ((self._by_resource, key), (self._by_kind, kkey)):
            if k in index:
                old = type(index[k])
                raise DuplicateRegistration(
                    f"{'/'.join(k)} is registered twice: by {old.__module__}.{old.__name__} "
                    f"and by {strategy_cls.__module__}.{strategy_cls.__name__}")
        self._by_resource = {**self._by_resource, key: instance}
        self._by_kind = {**self._by_kind, kkey: instance}
        if group_priority or strategy_cls.group not in self._group_priority:
            self._group_priority = {**self._group_priority, strategy_cls.group: max(
                group_priority, self._group_priority.get(strategy_cls.group, 0))}
        self.generation += 1

    def priority(self, group: str) -> int:
        return self._group_priority.get(group, 0)

    def unregister(self, strategy_cls) -> None:
        """Remove a kind (a deleted custom resource; tests' throwaway kinds)."""
        key = (strategy_cls.group, strategy_cls.version, strategy_cls.plural)
        kkey = (strategy_cls.group, strategy_cls.version, strategy_cls.kind)
        if key in self._by_resource:
            self._by_resource = {k: v for k, v in self._by_resource.items() if k != key}
        if kkey in self._by_kind:
            self._by_kind = {k: v for k, v in self._by_kind.items() if k != kkey}
        self.generation += 1

    # ---- dynamic kind sources ---------------------------------------------------------------
    def register_source(self, server_name: str, factory) -> None:
        """Declare a source of kinds that change while serving (the CRD installer):
        ``factory(server)`` is called by each GenericAPIServer named ``server_name`` when it
        is built and returns an object with the source protocol that
        ``apiserver.server.generic`` documents.  Filled from ``ready()`` like kinds."""
        known = self._sources.setdefault(server_name, [])
        if factory in known:
            raise DuplicateRegistration(f"source {factory!r} of {server_name} registered twice")
        known.append(factory)

    def sources(self, server_name: str) -> list:
        return list(self._sources.get(server_name, ()))

    def strategy(self, group: str, version: str, resource: str):
        """The strategy serving ``resource`` in group/version, or None."""
        return self._by_resource.get((group, version, resource))

    def strategy_for_kind(self, group: str, version: str, kind: str):
        return self._by_kind.get((group, version, kind))

    def all(self) -> list:
        return list(self._by_resource.values())

    def groups(self) -> list[str]:
        """Group names (core "" included) by priority then name, as discovery lists them."""
        names = {s.group for s in self._by_resource.values()}
        return sorted(names, key=lambda g: (-self._group_priority.get(g, 0), g))

    def versions(self, group: str) -> list[str]:
        return sorted({s.version for s in self._by_resource.values() if s.group == group})

    def resources(self, group: str, version: str) -> list:
        return sorted((s for s in self._by_resource.values()
                       if s.group == group and s.version == version), key=lambda s: s.plural)


# The registry of kind declarations, filled by apps' ready() before any server starts.
scheme = Scheme()
