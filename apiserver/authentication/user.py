"""Who a request is (upstream kubernetes/apiserver:pkg/authentication/user/user.go)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class UserInfo:
    """An authenticated identity (upstream ``user.Info``)."""

    name: str
    uid: str = ""
    groups: tuple = ()
    extra: dict = field(default_factory=dict)
