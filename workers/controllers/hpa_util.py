"""Helpers of the horizontal pod autoscaler controller (upstream release-1.32
pkg/controller/podautoscaler/horizontal.go ``setCondition``/``setStatus`` and the scale client
of k8s.io/client-go/scale with a discovery RESTMapper; cmd/kube-controller-manager/app/options/
hpacontroller.go for the flags).
"""
from __future__ import annotations

import argparse
import re
import time

from apiserver.client import ApiError
from apiserver.client.events import now_rfc3339

DISCOVERY_TTL = 30.0


def go_duration(text: str) -> float:
    """An argparse type for Go durations (``15s``, ``5m0s``, ``1m30s``, ``500ms``) or plain
    seconds."""
    s = str(text).strip()
    if re.fullmatch(r"[0-9.]+", s):
        return float(s)
    parts = re.findall(r"([0-9.]+)(h|ms|m|s)", s)
    if not parts or "".join(n + u for n, u in parts) != s:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}")
    return sum(float(n) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001}[u] for n, u in parts)


def add_arguments(p) -> None:
    """The controller's flags, upstream's names and defaults (cmd/kube-controller-manager
    app/options/hpacontroller.go)."""
    p.add_argument("--horizontal-pod-autoscaler-sync-period", type=go_duration, default=15.0,
                   help="the period for syncing the number of pods in horizontal pod autoscaler")
    p.add_argument("--horizontal-pod-autoscaler-downscale-stabilization", type=go_duration,
                   default=300.0, help="the period for which autoscaler will look backwards and "
                   "not scale down below any recommendation it made during that period")
    p.add_argument("--horizontal-pod-autoscaler-tolerance", type=float, default=0.1,
                   help="the minimum change (from 1.0) in the desired-to-actual metrics ratio "
                        "for the horizontal pod autoscaler to consider scaling")
    p.add_argument("--horizontal-pod-autoscaler-cpu-initialization-period", type=go_duration,
                   default=300.0, help="the period after pod start when CPU samples might be "
                   "skipped")
    p.add_argument("--horizontal-pod-autoscaler-initial-readiness-delay", type=go_duration,
                   default=30.0, help="the period after pod start during which readiness "
                   "changes will be treated as initial readiness")
    p.add_argument("--concurrent-horizontal-pod-autoscaler-syncs", type=int, default=5,
                   help="the number of horizontal pod autoscaler objects allowed to sync "
                        "concurrently")


def set_condition(status: dict, kind: str, value: str, reason: str, message: str) -> None:
    """``setCondition``: add or update one condition; its transition time moves only when
    its status changes."""
    conditions = status.setdefault("conditions", [])
    cond = next((c for c in conditions if c.get("type") == kind), None)
    if cond is None:
        cond = {"type": kind}
        conditions.append(cond)
    if cond.get("status") != value:
        cond["lastTransitionTime"] = now_rfc3339()
    cond.update(status=value, reason=reason, message=message)


def milli_quantity(milli: int) -> str:
    """``resource.NewMilliQuantity(v, DecimalSI).String()``: ``250m``, ``2``, ``1500m``,
    ``67108864``, ``2k``."""
    if milli % 1000:
        return f"{milli}m"
    units, suffix = milli // 1000, ""
    for s in ("k", "M", "G", "T", "P", "E"):
        if units == 0 or units % 1000:
            break
        units, suffix = units // 1000, s
    return f"{units}{suffix}"


def canonical_status(status: dict) -> dict:
    """The status as the server stores it (zero currentReplicas and empty conditions
    omitted, ``currentMetrics`` null when empty), so an unchanged one compares equal."""
    out = {k: v for k, v in status.items() if v is not None}
    if not out.get("currentReplicas"):
        out.pop("currentReplicas", None)
    if not out.get("conditions"):
        out.pop("conditions", None)
    out["currentMetrics"] = status.get("currentMetrics") or None
    out.setdefault("desiredReplicas", 0)
    return out


class ScaleClient:
    """The ``/scale`` subresource of whatever resource a group and kind name (upstream's
    RESTMapper + scale client): discovery of the group's versions, preferred first."""

    def __init__(self, client):
        self.client = client
        self._discovery: dict[str, tuple[float, list]] = {}

    async def _versions(self, group: str, refresh: bool) -> list:
        """``[(group/version path, resources)]`` of ``group``, preferred version first."""
        cached = self._discovery.get(group)
        if cached is not None and not refresh and time.monotonic() - cached[0] < DISCOVERY_TTL:
            return cached[1]
        found = []
        try:
            if not group:
                found = [("/api/v1", (await self.client.get("/api/v1")).get("resources") or [])]
            else:
                doc = await self.client.get(f"/apis/{group}")
                versions = [v["groupVersion"] for v in doc.get("versions") or []]
                preferred = (doc.get("preferredVersion") or {}).get("groupVersion")
                if preferred in versions:
                    versions.remove(preferred)
                    versions.insert(0, preferred)
                for gv in versions:
                    resources = (await self.client.get(f"/apis/{gv}")).get("resources") or []
                    found.append((f"/apis/{gv}", resources))
        except ApiError as exc:
            if exc.status != 404:
                raise
        self._discovery[group] = (time.monotonic(), found)
        return found

    async def resolve(self, group: str, kind: str) -> tuple[str, str]:
        """``(group/version path, plural)`` of the kind; MetricError-free ``LookupError``
        with upstream's NoKindMatchError text when no version serves it."""
        for refresh in (False, True):
            for base, resources in await self._versions(group, refresh):
                plural = next((r["name"] for r in resources
                               if r.get("kind") == kind and "/" not in r.get("name", "")), None)
                if plural is not None:
                    return base, plural
        raise LookupError(f'no matches for kind "{kind}" in group "{group}"')

    @staticmethod
    def path(base: str, plural: str, namespace: str, name: str) -> str:
        return f"{base}/namespaces/{namespace}/{plural}/{name}/scale"


def go_label_selector(selector: dict | None) -> str:
    """A ``*metav1.LabelSelector`` as Go's ``%+v`` prints it (its generated ``String()``),
    which upstream puts in external-metric errors; ``nil`` when unset."""
    if selector is None:
        return "nil"
    labels = "".join(f"{k}: {v}," for k, v in sorted((selector.get("matchLabels") or {}).items()))
    exprs = "".join(
        f"LabelSelectorRequirement{{Key:{r.get('key')},Operator:{r.get('operator')},"
        f"Values:[{' '.join(r.get('values') or [])}],}},"
        for r in selector.get("matchExpressions") or [])
    return (f"&LabelSelector{{MatchLabels:map[string]string{{{labels}}},"
            f"MatchExpressions:[]LabelSelectorRequirement{{{exprs}}},}}")
