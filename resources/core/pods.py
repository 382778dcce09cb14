"""core/v1 Pod: defaults, initial status, validation, graceful deletion, ``pods/binding``.

Upstream: k8s.io/kubernetes ``pkg/registry/core/pod/strategy.go`` (PrepareForCreate,
CheckGracefulDelete, selectable fields) and ``pkg/registry/core/pod/storage/storage.go``
(BindingREST).  Defaults live in ``pod_defaults``, validation in ``pod_validation``, the
table row in ``pod_printing``.

Binding (:class:`BindingSubresource`).  Upstream's BindingREST writes storage directly,
bypassing the pod strategy; here a binding goes through ``Store.guaranteed_update`` (one
atomic write, one watch event) with the request context's subresource set to ``binding``:
``prepare_for_update`` then keeps the ``PodScheduled`` condition the transform set (instead
of the stored status) and ``validate_update`` accepts the ``spec.nodeName`` change a normal
update may not make.

Eviction (``pods/<name>/eviction``, :mod:`.pod_eviction`): a create-style subresource that
deletes the pod unless its PodDisruptionBudget forbids it (upstream ``EvictionREST``).

Streaming (``exec``, ``attach``, ``portforward``, ``log``, ``proxy``, :mod:`.pod_connect`):
connect-style subresources proxied to the pod's kubelet (or, for proxy, the pod's IP).

Ephemeral containers (``pods/<name>/ephemeralcontainers``, :mod:`.pod_ephemeral`): a
get/update/patch subresource served by the generic Store; with ``ctx.subresource`` set to
``ephemeralcontainers`` the hooks keep everything of the stored pod but
``spec.ephemeralContainers`` and validate as upstream's ``podEphemeralContainersStrategy``.
"""
from __future__ import annotations

from apiserver.registry.meta import now_rfc3339
from apiserver.registry.strategy import STATUS, Strategy, Subresource
from apiserver.runtime import errors

from . import pod_connect, pod_ephemeral
from .pod_defaults import default_pod, qos_class
from .pod_eviction import EVICTION
from .pod_printing import COLUMNS, pod_row
from .pod_validation import validate_pod, validate_pod_update

# fields admission plugins fill on create (Priority, ServiceAccount); an update that omits
# them keeps the stored values instead of failing "pod updates may not change fields …"
_ADMISSION_FILLED = ("priority", "preemptionPolicy", "serviceAccountName", "serviceAccount")


def _spec(o: dict) -> dict:
    return o.get("spec") or {}


def _status(o: dict) -> dict:
    return o.get("status") or {}


class BindingSubresource(Subresource):
    """``pods/<name>/binding`` (upstream ``BindingREST``, kubernetes/kubernetes:
    pkg/registry/core/pod/storage/storage.go)."""

    def create(self, ctx, store, namespace, name, body):
        """POST: assign the pod to ``target.name``, copy the Binding's annotations, set
        ``PodScheduled=True``; 201 with a ``Status`` of ``Success``."""
        meta = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
        if meta.get("name") and meta["name"] != name:
            raise errors.BadRequest("name in URL does not match name in Binding object")
        if meta.get("namespace") and namespace and meta["namespace"] != namespace:
            raise errors.BadRequest("namespace in URL does not match namespace in Binding object")
        target = body.get("target") if isinstance(body.get("target"), dict) else {}
        node = target.get("name") or ""
        if not node:
            raise errors.Invalid.for_object("Binding", "", name,
                                            [errors.required("target.name")])
        annotations = meta.get("annotations") if isinstance(meta.get("annotations"), dict) else {}

        def bind(pod: dict) -> dict:
            # upstream BindingREST.setPodNodeAndMetadata
            pm = pod.setdefault("metadata", {})
            if pm.get("deletionTimestamp"):
                raise errors.Conflict.for_object(
                    "pods/binding", "", name,
                    f"pod {name} is being deleted, cannot be assigned to a host")
            current = _spec(pod).get("nodeName")
            if current:
                raise errors.Conflict.for_object(
                    "pods/binding", "", name,
                    f'pod {name} is already assigned to node "{current}"')
            pod.setdefault("spec", {})["nodeName"] = node
            if annotations:
                pm.setdefault("annotations", {}).update(annotations)
            conditions = [c for c in (pod.setdefault("status", {}).get("conditions") or [])
                          if isinstance(c, dict) and c.get("type") != "PodScheduled"]
            conditions.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                               "lastTransitionTime": now_rfc3339()})
            pod["status"]["conditions"] = conditions
            return pod

        store.guaranteed_update(namespace, name, bind, ctx.for_subresource("binding"))
        return 201, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                     "status": "Success", "code": 201}


BINDING = BindingSubresource("binding", verbs=("create",), kind=("", "v1", "Binding"),
                             schema_name="io.k8s.api.core.v1.Binding")
EPHEMERAL_CONTAINERS = Subresource(pod_ephemeral.SUBRESOURCE)


class PodStrategy(Strategy):
    kind = "Pod"
    plural = "pods"
    return_deleted_object = True      # upstream ReturnDeletedObject
    short_names = ("po",)
    categories = ("all",)
    subresources = (STATUS, BINDING, EVICTION, EPHEMERAL_CONTAINERS, pod_connect.EXEC,
                    pod_connect.ATTACH, pod_connect.PORT_FORWARD, pod_connect.LOG,
                    pod_connect.PROXY)
    schema_name = "io.k8s.api.core.v1.Pod"
    columns = COLUMNS
    # upstream pod.ToSelectableFields (pkg/registry/core/pod/strategy.go)
    selectable_fields = {
        "spec.nodeName": lambda o: _spec(o).get("nodeName") or "",
        "spec.restartPolicy": lambda o: _spec(o).get("restartPolicy") or "",
        "spec.schedulerName": lambda o: _spec(o).get("schedulerName") or "",
        "spec.serviceAccountName": lambda o: _spec(o).get("serviceAccountName") or "",
        "spec.hostNetwork": lambda o: "true" if _spec(o).get("hostNetwork") else "false",
        "status.phase": lambda o: _status(o).get("phase") or "",
        # podIPs: only the first two (one per family) are selectable, joined with ","
        "status.podIP": lambda o: _status(o).get("podIP") or "",
        "status.podIPs": lambda o: ",".join(
            p.get("ip", "") for p in (_status(o).get("podIPs") or [])[:2] if isinstance(p, dict)),
        "status.nominatedNodeName": lambda o: _status(o).get("nominatedNodeName") or "",
    }

    # ---- hooks ----------------------------------------------------------------------------
    def default(self, obj):
        """``SetDefaults_Pod`` and nested defaults (see ``pod_defaults``)."""
        default_pod(obj)

    def prepare_for_create(self, ctx, obj):
        """Upstream ``podStrategy.PrepareForCreate``: status starts as ``Pending`` with the
        computed QoS class.  Also what the Priority and ServiceAccount admission plugins add
        on a real cluster: ``priority: 0`` + ``preemptionPolicy: PreemptLowerPriority`` when
        no priority class is named, and ``serviceAccountName: default``."""
        obj["status"] = {"phase": "Pending", "qosClass": qos_class(obj)}
        spec = obj.get("spec")
        if isinstance(spec, dict):
            if not spec.get("priorityClassName"):
                spec.setdefault("priority", 0)
                spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
            if not spec.get("serviceAccountName"):
                spec["serviceAccountName"] = spec.get("serviceAccount") or "default"
            spec.setdefault("serviceAccount", spec["serviceAccountName"])

    def validate(self, ctx, obj):
        return validate_pod(obj)

    def prepare_for_update(self, ctx, new, old):
        """Keep the stored status (it belongs to ``/status``), except during a binding, and
        keep admission-filled spec fields a client's PUT left out.  An ephemeralcontainers
        write keeps everything but ``spec.ephemeralContainers``."""
        if ctx.subresource == pod_ephemeral.SUBRESOURCE:
            pod_ephemeral.keep_only_ephemeral_containers(new, old)
            return
        if ctx.subresource != "binding":
            super().prepare_for_update(ctx, new, old)
        new_spec, old_spec = new.get("spec"), old.get("spec") or {}
        if isinstance(new_spec, dict):
            for key in _ADMISSION_FILLED:
                if key not in new_spec and key in old_spec:
                    new_spec[key] = old_spec[key]

    def validate_update(self, ctx, new, old):
        """``ValidatePodUpdate``; a binding may set ``spec.nodeName`` on an unbound pod; an
        ephemeralcontainers write meets ``ValidatePodEphemeralContainersUpdate``."""
        if ctx.subresource == pod_ephemeral.SUBRESOURCE:
            return pod_ephemeral.validate_ephemeral_containers_update(new, old)
        node = _spec(new).get("nodeName")
        if ctx.subresource == "binding" and node and not _spec(old).get("nodeName"):
            old = {**old, "spec": {**_spec(old), "nodeName": node}}
        return validate_pod_update(new, old)

    def grace_period(self, ctx, obj, requested):
        """Upstream ``podStrategy.CheckGracefulDelete``: a pod never scheduled, or already
        Succeeded/Failed, goes at once; otherwise the requested seconds or the pod's
        ``terminationGracePeriodSeconds`` (30 by default)."""
        if requested is not None:
            period = int(requested)
        else:
            grace = _spec(obj).get("terminationGracePeriodSeconds")
            period = int(grace) if isinstance(grace, int) else 0
        if not _spec(obj).get("nodeName"):
            period = 0
        if _status(obj).get("phase") in ("Succeeded", "Failed"):
            period = 0
        return 1 if period < 0 else period    # upstream turns a negative period into 1

    def table_row(self, obj):
        return pod_row(obj)
