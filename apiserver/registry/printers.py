"""Small helpers the kinds' ``table_row`` hooks share (upstream ``pkg/printers/internalversion``).

May import: the standard library only.
"""
from __future__ import annotations

from datetime import datetime, timezone


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def human_duration(seconds: float) -> str:
    """Upstream ``apimachinery/pkg/util/duration.HumanDuration``: 5s, 3m20s, 7h, 12d, 3y."""
    s = int(seconds)
    if s < 0:
        return "<invalid>"
    if s < 60 * 2:
        return f"{s}s"
    m = s // 60
    if m < 10:
        rem = s % 60
        return f"{m}m{rem}s" if rem else f"{m}m"
    if m < 60 * 3:
        return f"{m}m"
    h = s // 3600
    if h < 8:
        rem = (s % 3600) // 60
        return f"{h}h{rem}m" if rem else f"{h}h"
    if h < 48:
        return f"{h}h"
    if h < 24 * 8:
        rem = h % 24
        return f"{h // 24}d{rem}h" if rem else f"{h // 24}d"
    if h < 24 * 365 * 2:
        return f"{h // 24}d"
    if h < 24 * 365 * 8:
        y = h // (24 * 365)
        d = (h % (24 * 365)) // 24
        return f"{y}y{d}d" if d else f"{y}y"
    return f"{h // (24 * 365)}y"


def since(value: str | None) -> str:
    """Age of an RFC 3339 timestamp as kubectl shows it, ``<unknown>`` when absent."""
    t = parse_time(value)
    if t is None:
        return "<unknown>"
    return human_duration((datetime.now(timezone.utc) - t).total_seconds())


def age(obj: dict) -> str:
    return since(obj.get("metadata", {}).get("creationTimestamp"))


def join_or_none(values) -> str:
    values = [v for v in values if v]
    return ",".join(values) if values else "<none>"
