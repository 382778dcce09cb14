"""DefaultTolerationSeconds (upstream ``plugin/pkg/admission/defaulttolerationseconds``).

A new Pod that does not already tolerate the ``node.kubernetes.io/not-ready`` and
``node.kubernetes.io/unreachable`` NoExecute taints gets a toleration of each for 300 s
(``--default-not-ready-toleration-seconds`` / ``--default-unreachable-toleration-seconds``).
"""
from __future__ import annotations

from apiserver.admission.base import Plugin

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
DEFAULT_SECONDS = 300


def _tolerates(tolerations: list, key: str) -> bool:
    """Upstream counts any toleration of the key for NoExecute (or all effects), and an
    operator-Exists toleration with no key (tolerates everything)."""
    for t in tolerations:
        if not isinstance(t, dict):
            continue
        effect_ok = t.get("effect") in (None, "", "NoExecute")
        if effect_ok and (t.get("key") == key or (not t.get("key") and t.get("operator") == "Exists")):
            return True
    return False


class DefaultTolerationSeconds(Plugin):
    name = "DefaultTolerationSeconds"
    mutating = True

    def handles(self, operation: str) -> bool:
        return operation == "CREATE"

    def admit(self, attrs):
        if attrs.kind != "Pod" or attrs.group != "" or attrs.subresource or attrs.obj is None:
            return
        spec = attrs.obj.setdefault("spec", {})
        tolerations = spec.get("tolerations")
        if not isinstance(tolerations, list):
            tolerations = []
        for key in (NOT_READY, UNREACHABLE):
            if not _tolerates(tolerations, key):
                tolerations.append({"key": key, "operator": "Exists", "effect": "NoExecute",
                                    "tolerationSeconds": DEFAULT_SECONDS})
        spec["tolerations"] = tolerations
