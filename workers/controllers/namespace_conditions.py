"""The status conditions the namespace controller keeps on a Terminating namespace
(upstream pkg/controller/namespace/deletion/status_condition_utils.go, release-1.32).

Each pass of the deleter collects what went wrong (discovery, group version parsing,
content deletion) and what is left (resources and finalizers); ``ConditionUpdater.update``
then sets all five condition types on the namespace: True with a failure reason for what
was reported, False with the "ok" reason otherwise, so a condition that stops failing is
cleared.  ``lastTransitionTime`` changes only when a condition's status flips.
"""
from __future__ import annotations

from apiserver.client.events import now_rfc3339

DISCOVERY_FAILURE = "NamespaceDeletionDiscoveryFailure"
GV_PARSING_FAILURE = "NamespaceDeletionGroupVersionParsingFailure"
CONTENT_FAILURE = "NamespaceDeletionContentFailure"
CONTENT_REMAINING = "NamespaceContentRemaining"
FINALIZERS_REMAINING = "NamespaceFinalizersRemaining"

# the order upstream writes them in (conditionTypes)
CONDITION_TYPES = (DISCOVERY_FAILURE, GV_PARSING_FAILURE, CONTENT_FAILURE, CONTENT_REMAINING,
                   FINALIZERS_REMAINING)
OK = {   # type -> (reason, message) of the condition when nothing is wrong
    DISCOVERY_FAILURE: ("ResourcesDiscovered", "All resources successfully discovered"),
    GV_PARSING_FAILURE: ("ParsedGroupVersions", "All legacy kube types successfully parsed"),
    CONTENT_FAILURE: ("ContentDeleted",
                      "All content successfully deleted, may be waiting on finalization"),
    CONTENT_REMAINING: ("ContentRemoved", "All content successfully removed"),
    FINALIZERS_REMAINING: ("ContentRemoved", "All content successfully removed"),
}


class DiscoveryFailed(Exception):
    """Some group versions could not be read (client-go ``ErrGroupDiscoveryFailed``):
    ``groups`` maps each failing ``group/version`` to its error message."""

    def __init__(self, groups: dict[str, str]):
        self.groups = dict(groups)
        listed = ", ".join(sorted(f"{gv}: {err}" for gv, err in self.groups.items()))
        super().__init__(f"unable to retrieve the complete list of server APIs: {listed}")


def _text(err: Exception) -> str:
    """Go's ``err.Error()``: a Status's message (``ApiError.message``), else the text."""
    return getattr(err, "message", None) or str(err)


def _condition(kind: str, status: str, reason: str, message: str) -> dict:
    return {"type": kind, "status": status, "lastTransitionTime": now_rfc3339(),
            "reason": reason, "message": message}


def _gr(gr: tuple[str, str]) -> str:
    """``resource.group`` as upstream prints a GroupVersionResource's parts ("pods." for core)."""
    group, resource = gr
    return f"{resource}.{group}"


class ConditionUpdater:
    """``namespaceConditionUpdater``: fed by one ``deleteAllContent`` pass, then ``update``."""

    def __init__(self):
        self.new: dict[str, dict] = {}
        self.content_errors: list[str] = []

    def discovery_error(self, err: Exception) -> None:
        if isinstance(err, DiscoveryFailed):
            msg = f"Discovery failed for some groups, {len(err.groups)} failing: {err}"
        else:
            msg = _text(err)
        self.new.setdefault(DISCOVERY_FAILURE,
                            _condition(DISCOVERY_FAILURE, "True", "DiscoveryFailed", msg))

    def group_version_error(self, err: Exception) -> None:
        self.new.setdefault(GV_PARSING_FAILURE, _condition(
            GV_PARSING_FAILURE, "True", "GroupVersionParsingFailed", _text(err)))

    def delete_content_error(self, err: Exception) -> None:
        self.content_errors.append(_text(err))

    def content_totals(self, remaining: dict[tuple[str, str], int],
                       finalizers: dict[str, int]) -> None:
        """``ProcessContentTotals``: ``remaining`` counts objects left per (group, resource),
        ``finalizers`` per finalizer name; both messages are sorted for stable updates."""
        parts = sorted(f"{_gr(gr)} has {n} resource instances"
                       for gr, n in remaining.items() if n)
        if remaining:
            self.new[CONTENT_REMAINING] = _condition(
                CONTENT_REMAINING, "True", "SomeResourcesRemain",
                f"Some resources are remaining: {', '.join(parts)}")
        parts = sorted(f"{f} in {n} resource instances" for f, n in finalizers.items() if n)
        if finalizers:
            self.new[FINALIZERS_REMAINING] = _condition(
                FINALIZERS_REMAINING, "True", "SomeFinalizerRemain",
                f"Some finalizers are remaining: {', '.join(parts)}")

    def update(self, namespace: dict) -> bool:
        """Write every condition type into ``namespace["status"]["conditions"]``; True when
        anything changed (the caller then PUTs the status)."""
        if CONTENT_FAILURE not in self.new and self.content_errors:
            msgs = sorted(self.content_errors)
            self.new[CONTENT_FAILURE] = _condition(
                CONTENT_FAILURE, "True", "ContentDeletionFailed",
                f"Failed to delete all resource types, {len(msgs)} remaining: "
                f"{', '.join(msgs)}")
        conditions = namespace.setdefault("status", {}).setdefault("conditions", [])
        changed = False
        for kind in CONDITION_TYPES:
            new = self.new.get(kind) or _condition(kind, "False", *OK[kind])
            old = next((c for c in conditions if c.get("type") == kind), None)
            if old is None:
                conditions.append(new)
                changed = True
            elif any(old.get(k) != new[k] for k in ("status", "reason", "message")):
                if old.get("status") != new["status"]:
                    old["lastTransitionTime"] = new["lastTransitionTime"]
                old.update(status=new["status"], reason=new["reason"], message=new["message"])
                changed = True
        return changed
