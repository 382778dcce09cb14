"""What a Store call needs to know about the request that made it."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class UserInfo:
    """An authenticated identity (upstream ``user.Info``)."""

    name: str
    uid: str = ""
    groups: tuple = ()
    extra: dict = field(default_factory=dict)


@dataclass
class RequestContext:
    user: UserInfo | None = None
    dry_run: bool = False
    field_manager: str = ""
    field_validation: str = "Ignore"     # Ignore | Warn | Strict (upstream default: Warn for
    #                                      clients that send nothing; kubectl sends Strict)
    subresource: str = ""
    applying: bool = False               # server-side apply: the apply engine owns managedFields
    warnings: list = field(default_factory=list)

    def warn(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)
