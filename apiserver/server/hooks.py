"""Post-start hooks (upstream kubernetes/apiserver:pkg/server/hooks.go ``AddPostStartHook``):
apps register named functions from ``ready()``; each server process's completed config runs
them once before it reports started.  A hook receives a :class:`HookContext` — the store
registry, the options and a stop event — and may start a thread that runs until the event
is set (an in-process controller).  Duplicate names are refused.

The table below is a registry of declarations, filled before any server exists.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

_hooks: dict = {}


@dataclass(frozen=True)
class HookContext:
    """What a hook gets (upstream ``PostStartHookContext``: loopback client and stop channel)."""

    stores: object
    options: object
    stop: threading.Event


def register_post_start(name: str, fn) -> None:
    if name in _hooks:
        raise ValueError(f"post-start hook {name!r} registered twice: {_hooks[name]!r} and {fn!r}")
    _hooks[name] = fn


def registered() -> dict:
    """The registered hooks, in registration order (a copy)."""
    return dict(_hooks)
