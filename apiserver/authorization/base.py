"""Decisions, attributes and the union (upstream ``pkg/authorization/union/union.go``).

Besides ``authorize``, an authorizer may list what a user can do in a namespace
(``rules_for``, upstream ``authorizer.RuleResolver``), which SelfSubjectRulesReview
(``kubectl auth can-i --list``) reports.  Rules are wire-form dicts:
``{"verbs", "apiGroups", "resources", "resourceNames"?}`` and ``{"verbs", "nonResourceURLs"}``.
"""
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
    field_selector: str = ""     # list/watch: the Node authorizer needs spec.nodeName=<node>


ALL_RESOURCE_RULES = ({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},)
ALL_NON_RESOURCE_RULES = ({"verbs": ["*"], "nonResourceURLs": ["*"]},)


def _copy(rules) -> list[dict]:
    return [{k: list(v) for k, v in rule.items()} for rule in rules]


class Authorizer:
    name = ""

    def authorize(self, attrs: AuthorizationAttributes) -> tuple[Decision, str]:
        return Decision.NO_OPINION, ""

    def needs_io(self, attrs: AuthorizationAttributes) -> bool:
        """Whether deciding may block (a webhook call): the filter then asks on a request
        thread instead of the event loop."""
        return False

    def rules_for(self, user, namespace: str) -> tuple[list[dict], list[dict], bool]:
        """(resource rules, non-resource rules, incomplete) ``user`` has in ``namespace``.

        The default is for authorizers that cannot enumerate their rules (a webhook):
        nothing, marked incomplete."""
        return [], [], True


class SystemMasters(Authorizer):
    """kube-apiserver always allows ``system:masters`` before any configured authorizer."""

    name = "system:masters"

    def authorize(self, attrs):
        if "system:masters" in getattr(attrs.user, "groups", ()):
            return Decision.ALLOW, ""
        return Decision.NO_OPINION, ""

    def rules_for(self, user, namespace):
        """Members may do everything; for others this authorizer has nothing to add."""
        if "system:masters" in getattr(user, "groups", ()):
            return _copy(ALL_RESOURCE_RULES), _copy(ALL_NON_RESOURCE_RULES), False
        return [], [], False


class AlwaysAllow(Authorizer):
    name = "AlwaysAllow"

    def authorize(self, attrs):
        return Decision.ALLOW, ""

    def rules_for(self, user, namespace):
        return _copy(ALL_RESOURCE_RULES), _copy(ALL_NON_RESOURCE_RULES), False


class AlwaysDeny(Authorizer):
    """Upstream answers NoOpinion (a later mode may still allow), with this reason."""

    name = "AlwaysDeny"

    def authorize(self, attrs):
        return Decision.NO_OPINION, "Everything is forbidden."

    def rules_for(self, user, namespace):
        return [], [], False


class Union(Authorizer):
    def __init__(self, authorizers):
        self.authorizers = list(authorizers)

    def needs_io(self, attrs):
        return any(a.needs_io(attrs) for a in self.authorizers)

    def authorize(self, attrs):
        reasons = []
        for authorizer in self.authorizers:
            decision, reason = authorizer.authorize(attrs)
            if decision is not Decision.NO_OPINION:
                return decision, reason
            if reason:
                reasons.append(reason)
        # upstream's union joins the reasons with newlines (pkg/authorization/union/union.go)
        return Decision.NO_OPINION, "\n".join(reasons)

    def rules_for(self, user, namespace):
        """Every authorizer's rules, concatenated without repeats; incomplete if any is."""
        resource, non_resource, incomplete = [], [], False
        for authorizer in self.authorizers:
            rules = getattr(authorizer, "rules_for", None)
            if rules is None:
                incomplete = True
                continue
            r, n, inc = rules(user, namespace)
            resource += [rule for rule in r if rule not in resource]
            non_resource += [rule for rule in n if rule not in non_resource]
            incomplete = incomplete or inc
        return resource, non_resource, incomplete


@dataclass(frozen=True)
class Dependencies:
    """What mode factories are built from: the serving ``options`` (flags such as
    ``--authorization-policy-file``), the ``stores`` (StoreRegistry: objects a mode reads,
    e.g. RBAC roles or the Node authorizer's pods) and ``storages`` (the Storages whose
    change logs a mode may follow to keep its in-memory state current).  Opaque here: the
    server hands them over."""

    options: object = None
    stores: object = None
    storages: tuple = ()


# The registry of mode factories (``factory(deps) -> Authorizer``): apps add RBAC, Node,
# ABAC, Webhook from ready().
MODES = {"AlwaysAllow": lambda deps: AlwaysAllow(), "AlwaysDeny": lambda deps: AlwaysDeny()}


def register_mode(name: str, factory) -> None:
    """Apps add modes (RBAC, Node, ABAC, Webhook) from ``ready()``; ``factory(deps)``
    returns the Authorizer for one server process."""
    if name in MODES:
        raise ValueError(f"authorization mode {name!r} is registered twice")
    MODES[name] = factory


def check(modes) -> None:
    """Raise ValueError naming any unknown mode (before anything is built)."""
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        raise ValueError(f"unknown authorization mode(s): {', '.join(unknown)}; "
                         f"known: {', '.join(sorted(MODES))}")


def build(modes, deps: Dependencies | None = None) -> Union:
    """The union of ``--authorization-mode`` in order, after the implicit system:masters
    authorizer.  With no mode at all nothing but system:masters is allowed: a server whose
    authorization is not configured fails closed."""
    check(modes)
    deps = deps or Dependencies()
    return Union([SystemMasters()] + [MODES[m](deps) for m in modes])
