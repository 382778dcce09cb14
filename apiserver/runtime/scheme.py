"""The Scheme: every served kind, keyed by group/version/resource and group/version/kind.

Apps fill it from ``AppConfig.ready()`` with :meth:`Scheme.register`; it refuses a second
registration of the same resource or kind, naming both parties.  Servers read it after start.
Upstream: k8s.io/apimachinery ``pkg/runtime/scheme.go`` and the RESTMapper.

May import: apiserver.registry.strategy (for the type only).
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
    def __init__(self):
        self._by_resource: dict[tuple[str, str, str], object] = {}
        self._by_kind: dict[tuple[str, str, str], object] = {}
        self._group_priority: dict[str, int] = {}

    def register(self, strategy_cls, *, group_priority: int = 0):
        """Register one kind.  ``group_priority`` orders groups in discovery (higher first)."""
        key = (strategy_cls.group, strategy_cls.version, strategy_cls.plural)
        kkey = (strategy_cls.group, strategy_cls.version, strategy_cls.kind)
        if not strategy_cls.kind or not strategy_cls.plural:
            raise DuplicateRegistration(f"{strategy_cls.__module__}.{strategy_cls.__name__}: "
                                        "kind and plural are required")
        for index, k in ((self._by_resource, key), (self._by_kind, kkey)):
            if k in index:
                old = type(index[k])
                raise DuplicateRegistration(
                    f"{'/'.join(k)} is registered twice: by {old.__module__}.{old.__name__} "
                    f"and by {strategy_cls.__module__}.{strategy_cls.__name__}")
        instance = strategy_cls()
        self._by_resource[key] = instance
        self._by_kind[kkey] = instance
        if group_priority or strategy_cls.group not in self._group_priority:
            self._group_priority[strategy_cls.group] = max(
                group_priority, self._group_priority.get(strategy_cls.group, 0))
        return strategy_cls

    def unregister(self, strategy_cls) -> None:
        """Remove a kind (used by tests that register throwaway kinds)."""
        self._by_resource.pop((strategy_cls.group, strategy_cls.version, strategy_cls.plural), None)
        self._by_kind.pop((strategy_cls.group, strategy_cls.version, strategy_cls.kind), None)

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


# The process-wide scheme, filled before the servers start.
scheme = Scheme()
