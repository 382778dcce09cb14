"""Go duration strings (``1m30s``), as kube-apiserver's flags and ``?timeout=`` take them
(upstream: golang/go:src/time/format.go ``ParseDuration``)."""
from __future__ import annotations

import re

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")


def parse_go_duration(text: str) -> float:
    """Seconds in a Go duration string such as ``32s`` or ``1m30s``."""
    pos, total = 0, 0.0
    if not text:
        raise ValueError(text)
    while pos < len(text):
        m = _PART.match(text, pos)
        if not m:
            raise ValueError(text)
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    return total
