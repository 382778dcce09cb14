"""Placeholder while this mechanism is being written (authentication issue)."""
from __future__ import annotations


def from_options(deps):
    return None
