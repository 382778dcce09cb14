"""Post-start hooks (upstream ``AddPostStartHook``): apps register named functions from
``ready()`` that reconcile bootstrap objects through the stores before the server reports
ready.  Duplicate names are refused."""
from __future__ import annotations

_hooks: dict = {}


def register_post_start(name: str, fn) -> None:
    if name in _hooks:
        raise ValueError(f"post-start hook {name!r} registered twice: {_hooks[name]!r} and {fn!r}")
    _hooks[name] = fn


def run_post_start(stores) -> None:
    for fn in _hooks.values():
        fn(stores)
