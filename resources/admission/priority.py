"""Priority (upstream kubernetes/kubernetes:plugin/pkg/admission/priority/admission.go,
kube-apiserver 1.32).

Pods (no subresource):

* CREATE: a named ``spec.priorityClassName`` must exist (``no PriorityClass with name X was
  found``); with none named, the global default class is used and named (the lowest-valued
  one should several claim it), else priority 0 with ``PreemptLowerPriority``.  The class
  decides ``spec.priority`` and ``spec.preemptionPolicy``: a pod that already carries
  different values is refused (``the integer value of priority (5) must not be provided in
  pod spec; priority admission controller computed 0 from the given PriorityClass name``,
  and its ``string value of PreemptionPolicy`` counterpart);
* UPDATE: a body that leaves out ``priority`` or ``preemptionPolicy`` keeps the stored ones.

PriorityClasses (validating, CREATE and UPDATE): only one may be ``globalDefault``:
``PriorityClass X is already marked as default. Only one default can exist``.  The system
classes (system-cluster-critical, system-node-critical) are ordinary stored classes here,
created at start by ``resources.bootstrap_scheduling``.
"""
from __future__ import annotations

import orjson

from apiserver.admission.base import Plugin
from apiserver.registry.initializer import WantsStores
from apiserver.runtime import errors

from resources.admission.refusals import forbidden

GROUP = "scheduling.k8s.io"
DEFAULT_PRIORITY = 0      # scheduling.DefaultPriorityWhenNoDefaultClassExists
DEFAULT_POLICY = "PreemptLowerPriority"


def _forbidden(attrs, message: str) -> errors.Forbidden:
    """Upstream ``admission.NewForbidden`` with the request's or the object's name (no
    generateName fallback: these plugins name what they were given)."""
    name = attrs.name or ((attrs.obj or {}).get("metadata") or {}).get("name") or ""
    return forbidden(attrs.resource, attrs.group, name, message)


class Priority(Plugin, WantsStores):
    name = "Priority"
    mutating = True
    validating = True
    stores = None

    def set_stores(self, stores) -> None:
        self.stores = stores

    def handles(self, operation: str) -> bool:
        return operation in ("CREATE", "UPDATE")

    def _classes(self):
        return self.stores.store(GROUP, "v1", "priorityclasses")

    def default_class(self) -> dict | None:
        """The global default class; the lowest-valued one if a race left several."""
        found = None
        for doc in self._classes().list(None)["items"]:
            pc = orjson.loads(doc)
            if pc.get("globalDefault") and (found is None or pc.get("value", 0) < found.get("value", 0)):
                found = pc
        return found

    # ---- pods -----------------------------------------------------------------------------
    def admit(self, attrs):
        if (attrs.resource != "pods" or attrs.group != "" or attrs.subresource
                or not isinstance(attrs.obj, dict)):
            return
        spec = attrs.obj.setdefault("spec", {})
        if attrs.operation == "UPDATE":
            old = (attrs.old or {}).get("spec") or {}
            for key in ("priority", "preemptionPolicy"):
                if spec.get(key) is None and old.get(key) is not None:
                    spec[key] = old[key]
            return
        if attrs.operation != "CREATE":
            return
        name = spec.get("priorityClassName") or ""
        if not name:
            pc = self.default_class()
            if pc is None:
                priority, policy = DEFAULT_PRIORITY, DEFAULT_POLICY
            else:
                priority, policy = pc.get("value", 0), pc.get("preemptionPolicy")
                spec["priorityClassName"] = pc["metadata"]["name"]
        else:
            try:
                pc = orjson.loads(self._classes().get(None, name))
            except errors.NotFound:
                raise _forbidden(attrs, f"no PriorityClass with name {name} was found") from None
            priority, policy = pc.get("value", 0), pc.get("preemptionPolicy")
        given = spec.get("priority")
        if given is not None and given != priority:
            raise _forbidden(attrs, f"the integer value of priority ({given}) must not be "
                                    f"provided in pod spec; priority admission controller "
                                    f"computed {priority} from the given PriorityClass name")
        spec["priority"] = priority
        if policy:
            given = spec.get("preemptionPolicy")
            if given is not None and given != policy:
                raise _forbidden(attrs, f"the string value of PreemptionPolicy ({given}) must "
                                        f"not be provided in pod spec; priority admission "
                                        f"controller computed {policy} from the given "
                                        f"PriorityClass name")
            spec["preemptionPolicy"] = policy

    # ---- priority classes -----------------------------------------------------------------
    def validate(self, attrs):
        if (attrs.resource != "priorityclasses" or attrs.group != GROUP or attrs.subresource
                or not isinstance(attrs.obj, dict) or not attrs.obj.get("globalDefault")):
            return
        current = self.default_class()
        if current is None:
            return
        other = current["metadata"]["name"]
        if attrs.operation == "CREATE" or (attrs.operation == "UPDATE" and other != attrs.name):
            raise _forbidden(attrs, f"PriorityClass {other} is already marked as default. "
                                    f"Only one default can exist")
