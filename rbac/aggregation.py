"""The ClusterRole aggregation controller: a ClusterRole with an ``aggregationRule`` holds the
rules of every other ClusterRole its selectors match.

Upstream: kubernetes/kubernetes:pkg/controller/clusterroleaggregation/
clusterroleaggregation_controller.go (``syncClusterRole``): for each selector in order, the
matching ClusterRoles by name (the role itself skipped), each of their rules appended unless
an equal rule is there already; the role is written only when the result differs.  Upstream
runs it in kube-controller-manager; here it runs in the server process, like the namespace
and CSR signing controllers, until the controller-manager issue moves it.

Aggregation is transitive (admin ← edit ← view): a pass settles the chain in memory first, so
a labelled rule reaches every aggregating role in one wake-up, each written once.
"""
from __future__ import annotations

import logging

import orjson

from apiserver.registry.context import system_context
from apiserver.runtime import errors
from apiserver.runtime.selectors import label_selector_from_dict
from apiserver.storage.base import Compacted
from resources.controllers.base import POLL_SECONDS, PollingController

from .index import GROUP

log = logging.getLogger(__name__)

MANAGER = "clusterrole-aggregation-controller"
MAX_ROUNDS = 20           # a deeper chain than this settles on the next wake-up


def _same(a, b) -> bool:
    """``equality.Semantic.DeepEqual`` for rules: absent and empty lists are equal."""
    def norm(rule):
        return {k: v for k, v in (rule or {}).items() if v not in (None, [], "")}
    return [norm(r) for r in a or []] == [norm(r) for r in b or []]


def aggregated_rules(role: dict, roles: list[dict]) -> list[dict]:
    """The rules ``role``'s aggregationRule gathers from ``roles`` (sorted by name)."""
    out: list[dict] = []
    name = role["metadata"]["name"]
    for selector in (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []:
        try:
            match = label_selector_from_dict(selector)
        except (ValueError, errors.APIError):
            continue
        for other in roles:
            if other["metadata"]["name"] == name:
                continue
            if not match.matches((other.get("metadata") or {}).get("labels") or {}):
                continue
            for rule in other.get("rules") or []:
                if not any(_same([rule], [have]) for have in out):
                    out.append(rule)
    return out


class ClusterRoleAggregationController(PollingController):
    name = "clusterrole-aggregation-controller"

    def __init__(self, stores, *, poll_seconds: float = POLL_SECONDS):
        self.stores = stores
        self.store = stores.store(GROUP, "v1", "clusterroles")
        self.cursor = None        # the revision the last pass saw; None: not yet
        super().__init__(poll_seconds=poll_seconds)

    def _unchanged(self) -> bool:
        """No ClusterRole written since the last pass (one indexed read of the change log,
        so an idle server does not re-read every role each second)."""
        if self.cursor is None:
            return False
        try:
            return not self.store.storage.changes_after(self.cursor, 1,
                                                        resource=self.store.resource)
        except Compacted:
            return False

    def sync(self) -> int:
        """Aggregates in memory until a round changes nothing (so a chain settles in one
        pass), then writes each role whose rules changed, once; returns the roles written."""
        if self._unchanged():
            return 0
        cursor = self.store.storage.current_revision()
        roles = sorted((orjson.loads(d) for d in self.store.list(None)["items"]),
                       key=lambda r: r["metadata"]["name"])
        stored = {r["metadata"]["name"]: r.get("rules") for r in roles}
        for _ in range(MAX_ROUNDS):
            moved = False
            for role in roles:
                if role.get("aggregationRule"):
                    rules = aggregated_rules(role, roles)
                    if not _same(rules, role.get("rules")):
                        role["rules"], moved = rules, True
            if not moved:
                break
        ctx = system_context(MANAGER, self.stores)
        written = 0
        for role in roles:
            name = role["metadata"]["name"]
            if not role.get("aggregationRule") or _same(role.get("rules"), stored[name]):
                continue
            try:
                self.store.guaranteed_update(
                    None, name, lambda current, rules=role["rules"]: _with_rules(current, rules),
                    ctx)
            except errors.NotFound:
                continue
            written += 1
        # its own writes move the cursor on next time: one more (idempotent) pass settles it
        self.cursor = cursor
        return written


def _with_rules(current: dict, rules: list[dict]) -> dict:
    if current.get("aggregationRule"):
        current["rules"] = rules
    return current


def start_aggregation_controller(hook) -> None:
    """Post-start hook: aggregate until the server stops."""
    controller = ClusterRoleAggregationController(hook.stores)
    controller.start(hook.stop, storages=[controller.store.storage])
