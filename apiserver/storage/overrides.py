"""Storage overrides: which resources an app stores itself (upstream: the per-resource
choices a ``serverstorage.StorageFactory`` is configured with,
kubernetes/apiserver:pkg/server/storage/storage_factory.go).

Apps register from ``AppConfig.ready()``, before any server exists:
``registry.register(resources, factory)``, where ``factory(default_storage)`` returns the
Storage for those resources in one server process — built over the process's document storage
so it can share its revision row, change log and post-commit listeners — or None to leave them
in the default storage.  ``Config.complete()`` asks :meth:`Overrides.build` once per process.
A resource claimed twice is refused, naming both factories.

May import: the standard library.
"""
from __future__ import annotations


class Overrides:
    """A registry of declarations: resource → factory."""

    def __init__(self):
        self._factories = {}

    def register(self, resources, factory) -> None:
        for resource in resources:
            other = self._factories.get(resource)
            if other is not None and other is not factory:
                raise ValueError(f"storage for {resource!r} registered twice: {other!r} and "
                                 f"{factory!r}")
        for resource in resources:
            self._factories[resource] = factory

    def build(self, default) -> dict:
        """resource → Storage for one process; each factory is called once and its Storage
        serves every resource it registered."""
        built, out = {}, {}
        for resource, factory in self._factories.items():
            if factory not in built:
                built[factory] = factory(default)
            if built[factory] is not None:
                out[resource] = built[factory]
        return out


registry = Overrides()
