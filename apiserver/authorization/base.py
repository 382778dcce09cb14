"""Decisions, attributes and the union (upstream ``pkg/authorization/union/union.go``)."""
from __future__ import annotations

import enum
from dataclasses import dataclass


class Decision(enum.Enum):
    DENY = 0
    ALLOW = 1
    NO_OPINION = 2


@dataclass
class AuthorizationAttributes:
    user: object
    verb: str
    is_resource_request: bool
    path: str = ""
    namespace: str = ""
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""


class Authorizer:
    name = ""

    def authorize(self, attrs: AuthorizationAttributes) -> tuple[Decision, str]:
        return Decision.NO_OPINION, ""


class SystemMasters(Authorizer):
    """kube-apiserver always allows ``system:masters`` before any configured authorizer."""

    name = "system:masters"

    def authorize(self, attrs):
        if "system:masters" in getattr(attrs.user, "groups", ()):
            return Decision.ALLOW, ""
        return Decision.NO_OPINION, ""


class AlwaysAllow(Authorizer):
    name = "AlwaysAllow"

    def authorize(self, attrs):
        return Decision.ALLOW, ""


class AlwaysDeny(Authorizer):
    """Upstream answers NoOpinion (a later mode may still allow), with this reason."""

    name = "AlwaysDeny"

    def authorize(self, attrs):
        return Decision.NO_OPINION, "Everything is forbidden."


class Union(Authorizer):
    def __init__(self, authorizers):
        self.authorizers = list(authorizers)

    def authorize(self, attrs):
        reasons = []
        for authorizer in self.authorizers:
            decision, reason = authorizer.authorize(attrs)
            if decision is not Decision.NO_OPINION:
                return decision, reason
            if reason:
                reasons.append(reason)
        return Decision.NO_OPINION, "; ".join(reasons)


MODES = {"AlwaysAllow": AlwaysAllow, "AlwaysDeny": AlwaysDeny}


def register_mode(name: str, factory) -> None:
    """Apps add modes (RBAC, Node, ABAC, Webhook) from ``ready()``."""
    if name in MODES:
        raise ValueError(f"authorization mode {name!r} is registered twice")
    MODES[name] = factory


def build(modes) -> Union:
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        raise ValueError(f"unknown authorization mode(s): {', '.join(unknown)}; "
                         f"known: {', '.join(sorted(MODES))}")
    return Union([SystemMasters()] + [MODES[m]() for m in modes])


_current: Union | None = None


def set_current(authorizer: Union) -> None:
    """Publish the serving authorizer (access reviews ask it the same question a request would)."""
    global _current
    _current = authorizer


def current() -> Union:
    return _current if _current is not None else build(("AlwaysAllow",))
