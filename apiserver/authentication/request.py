"""Reading and removing request headers in an ASGI scope (names are lower-case bytes there).

May import: the standard library only.
"""
from __future__ import annotations


def header_values(scope, name: str) -> list[str]:
    """Every value of header ``name`` (case-insensitive), in order."""
    key = name.lower().encode("latin-1")
    return [v.decode("latin-1") for k, v in scope.get("headers", ()) if k == key]


def header(scope, name: str) -> str | None:
    """The first value of header ``name``, or None."""
    values = header_values(scope, name)
    return values[0] if values else None


def headers_with_prefix(scope, prefix: str) -> list[tuple[str, str]]:
    """(name without the prefix, value) of every header starting with ``prefix``."""
    p = prefix.lower().encode("latin-1")
    return [(k[len(p):].decode("latin-1"), v.decode("latin-1"))
            for k, v in scope.get("headers", ()) if k.startswith(p)]


def remove_headers(scope, names=(), prefixes=()) -> None:
    """Drop headers named ``names`` or starting with one of ``prefixes`` from the scope."""
    exact = {n.lower().encode("latin-1") for n in names}
    starts = tuple(p.lower().encode("latin-1") for p in prefixes)
    headers = scope.get("headers")
    if not headers:
        return
    kept = [(k, v) for k, v in headers if k not in exact and not (starts and k.startswith(starts))]
    if len(kept) != len(headers):
        scope["headers"] = kept
