"""NodeRestriction: what the Node authorizer allows a kubelet in general, narrowed to its
own node (upstream kubernetes/kubernetes:plugin/pkg/admission/noderestriction/admission.go,
with the kubelet label allow-list of staging/src/k8s.io/kubelet/pkg/apis/
well_known_labels.go).

Only requests of a node (``system:node:<name>`` in ``system:nodes``) are checked.  A node
may:

* create only mirror pods bound to itself, owned by its Node (a controller reference with
  the Node's uid, no blockOwnerDeletion), referencing no service account, secret,
  configmap, cluster trust bundle or PVC; delete only pods bound to itself; update pods
  only through ``status`` of its own pods (not their labels or resource claim statuses);
  evict only its own pods;
* create and modify only its own Node (``nodes`` and ``nodes/status``): no configSource,
  no taint changes, and no label in ``node-restriction.kubernetes.io/`` nor any other
  ``kubernetes.io``/``k8s.io`` label outside the kubelet's own (``kubernetes.io/hostname``,
  ``kubernetes.io/os``, ``topology.kubernetes.io/zone``, ``node.kubernetes.io/…``, …);
* update of a PVC only its status' capacity, conditions and allocated resources;
* request tokens only bound to a pod (by uid) scheduled on itself;
* touch only the lease and the CSINode named after itself (leases in kube-node-lease).

The refusals are upstream's ``admission.NewForbidden`` messages.  The checks of writes run
in the mutating phase (before the kind's own validation, as upstream); deletions, which
only reach the validating phase here, are checked there.  An eviction reaches admission as
the DELETE of its pod with ``subresource == "eviction"`` (the eviction subresource deletes
the pod through the Store); a CREATE of an Eviction object is checked too.
"""
from __future__ import annotations

import copy

import orjson

from apiserver.admission.base import Plugin
from apiserver.authorization.node import NODE_LEASE_NAMESPACE, node_identity
from apiserver.registry.initializer import WantsStores
from apiserver.runtime import errors
from resources.authorization.node_graph import (MIRROR_ANNOTATION, pod_configmap_names,
                                                pod_secret_names)

NODE_RESTRICTION_NAMESPACE = "node-restriction.kubernetes.io"
KUBELET_LABELS = frozenset((
    "kubernetes.io/hostname", "topology.kubernetes.io/zone", "topology.kubernetes.io/region",
    "failure-domain.beta.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/region",
    "beta.kubernetes.io/instance-type", "node.kubernetes.io/instance-type",
    "kubernetes.io/os", "kubernetes.io/arch", "beta.kubernetes.io/os",
    "beta.kubernetes.io/arch"))
KUBELET_LABEL_NAMESPACES = ("kubelet.kubernetes.io", "node.kubernetes.io")


def _forbidden(attrs, message: str) -> errors.Forbidden:
    """Upstream ``admission.NewForbidden``: the group-qualified resource and the object's
    name (from the request, else the object) in front of the reason."""
    name = attrs.name or ((attrs.obj or {}).get("metadata") or {}).get("name") or ""
    qualified = attrs.resource + (f".{attrs.group}" if attrs.group else "")
    subject = f'{qualified} "{name}"' if name else qualified
    details = {"kind": attrs.resource}
    if name:
        details["name"] = name
    if attrs.group:
        details["group"] = attrs.group
    return errors.Forbidden(f"{subject} is forbidden: {message}", details=details)


def _label_namespace(key: str) -> str:
    return key.split("/", 1)[0] if "/" in key else ""


def _in_namespace(namespace: str, domain: str) -> bool:
    return namespace == domain or namespace.endswith("." + domain)


def is_kubelet_label(key: str) -> bool:
    """A label kubelets may set on their own Node (upstream ``IsKubeletLabel``)."""
    ns = _label_namespace(key)
    return key in KUBELET_LABELS or any(_in_namespace(ns, d) for d in KUBELET_LABEL_NAMESPACES)


def forbidden_labels(labels: dict, old: dict) -> list[str]:
    """Keys added, removed or changed between ``old`` and ``labels`` that a node may not
    touch: node-restriction ones, and kubernetes.io / k8s.io ones kubelets do not own."""
    modified = {k for k in set(labels) | set(old)
                if k not in labels or k not in old or labels[k] != old[k]}
    out = set()
    for key in modified:
        ns = _label_namespace(key)
        if _in_namespace(ns, NODE_RESTRICTION_NAMESPACE):
            out.add(key)
        if (_in_namespace(ns, "kubernetes.io") or _in_namespace(ns, "k8s.io")) \
                and not is_kubelet_label(key):
            out.add(key)
    return sorted(out)


def _meta(obj) -> dict:
    return (obj or {}).get("metadata") or {}


def _spec(obj) -> dict:
    return (obj or {}).get("spec") or {}


class NodeRestriction(Plugin, WantsStores):
    name = "NodeRestriction"
    mutating = True
    validating = True
    stores = None

    def set_stores(self, stores) -> None:
        self.stores = stores

    def handles(self, operation: str) -> bool:
        return operation in ("CREATE", "UPDATE", "DELETE")

    def admit(self, attrs):
        """Creates and updates (deletes never reach the mutating phase)."""
        if attrs.operation in ("CREATE", "UPDATE"):
            self._check(attrs)

    def validate(self, attrs):
        if attrs.operation == "DELETE":
            self._check(attrs)

    # ---- dispatch (upstream Admit) ---------------------------------------------------------
    def _check(self, attrs):
        node, is_node = node_identity(attrs.user)
        if not is_node:
            return
        if not node:
            raise _forbidden(attrs, f'could not determine node from user "{attrs.user.name}"')
        resource = (attrs.group, attrs.resource)
        if resource == ("", "pods"):
            if attrs.subresource == "":
                return self._pod(node, attrs)
            if attrs.subresource == "status":
                return self._pod_status(node, attrs)
            if attrs.subresource == "eviction":
                return self._pod_eviction(node, attrs)
            raise _forbidden(attrs, f'unexpected pod subresource "{attrs.subresource}", only '
                                    "'status' and 'eviction' are allowed")
        if resource == ("", "nodes"):
            return self._node(node, attrs)
        if resource == ("", "persistentvolumeclaims"):
            if attrs.subresource == "status":
                return self._pvc_status(node, attrs)
            raise _forbidden(attrs, "may only update PVC status")
        if resource == ("", "serviceaccounts"):
            return self._service_account(node, attrs)
        if resource == ("coordination.k8s.io", "leases"):
            return self._lease(node, attrs)
        if resource == ("storage.k8s.io", "csinodes"):
            return self._csinode(node, attrs)
        return None

    # ---- pods ----------------------------------------------------------------------------
    def _pod(self, node, attrs):
        if attrs.operation == "CREATE":
            return self._pod_create(node, attrs)
        if attrs.operation == "DELETE":
            if _spec(attrs.old).get("nodeName") != node:
                raise _forbidden(attrs, f'node "{node}" can only delete pods with spec.nodeName '
                                        "set to itself")
            return None
        raise _forbidden(attrs, f'unexpected operation "{attrs.operation}", node "{node}" can '
                                "only create and delete mirror pods")

    def _pod_create(self, node, attrs):
        pod = attrs.obj or {}
        if MIRROR_ANNOTATION not in (_meta(pod).get("annotations") or {}):
            raise _forbidden(attrs, f'pod does not have "{MIRROR_ANNOTATION}" annotation, node '
                                    f'"{node}" can only create mirror pods')
        if _spec(pod).get("nodeName") != node:
            raise _forbidden(attrs, f'node "{node}" can only create pods with spec.nodeName set '
                                    "to itself")
        owners = _meta(pod).get("ownerReferences") or []
        if len(owners) > 1:
            raise _forbidden(attrs, f'node "{node}" can only create pods with a single owner '
                                    "reference set to itself")
        if not owners:
            raise _forbidden(attrs, f'node "{node}" can only create pods with an owner '
                                    "reference set to itself")
        owner = owners[0] if isinstance(owners[0], dict) else {}
        if owner.get("apiVersion") != "v1" or owner.get("kind") != "Node" \
                or owner.get("name") != node:
            raise _forbidden(attrs, f'node "{node}" can only create pods with an owner '
                                    "reference set to itself")
        if owner.get("controller") is not True:
            raise _forbidden(attrs, f'node "{node}" can only create pods with a controller '
                                    "owner reference set to itself")
        if owner.get("blockOwnerDeletion") is True:
            raise _forbidden(attrs, f'node "{node}" must not set blockOwnerDeletion on an '
                                    "owner reference")
        stored = self._get("", "v1", "nodes", "", node)
        uid = _meta(stored).get("uid") or ""
        if owner.get("uid") != uid:
            raise _forbidden(attrs, f"node {node} UID mismatch: expected {owner.get('uid') or ''} "
                                    f"got {uid}")
        # a node must not create a pod that would let it read other objects
        refused = None
        if _spec(pod).get("serviceAccountName"):
            refused = "a service account"
        elif pod_secret_names(pod):
            refused = "secrets"
        elif pod_configmap_names(pod):
            refused = "configmaps"
        elif any(isinstance(s, dict) and s.get("clusterTrustBundle") is not None
                 for v in _spec(pod).get("volumes") or [] if isinstance(v, dict)
                 for s in ((v.get("projected") or {}).get("sources") or [])):
            refused = "clustertrustbundles"
        elif any(isinstance(v, dict) and v.get("persistentVolumeClaim") is not None
                 for v in _spec(pod).get("volumes") or []):
            refused = "persistentvolumeclaims"
        if refused:
            raise _forbidden(attrs, f'node "{node}" can not create pods that reference {refused}')
        return None

    def _pod_status(self, node, attrs):
        if attrs.operation != "UPDATE":
            raise _forbidden(attrs, f'unexpected operation "{attrs.operation}"')
        if _spec(attrs.old).get("nodeName") != node:
            raise _forbidden(attrs, f'node "{node}" can only update pod status for pods with '
                                    "spec.nodeName set to itself")
        if (_meta(attrs.obj).get("labels") or {}) != (_meta(attrs.old).get("labels") or {}):
            raise _forbidden(attrs, f'node "{node}" cannot update labels through pod status')
        if _claim_statuses(attrs.obj) != _claim_statuses(attrs.old):
            raise _forbidden(attrs, f'node "{node}" cannot update resource claim statues')
        return None

    def _pod_eviction(self, node, attrs):
        if attrs.operation == "DELETE":     # the eviction deleting its pod (see the docstring)
            pod = attrs.old
        elif attrs.operation == "CREATE":
            name = attrs.name or _meta(attrs.obj).get("name") or ""
            if not name:
                raise _forbidden(attrs, "could not determine pod from request data")
            pod = self._get("", "v1", "pods", attrs.namespace, name)
        else:
            raise _forbidden(attrs, f"unexpected operation {attrs.operation}")
        if _spec(pod).get("nodeName") != node:
            raise _forbidden(attrs, f"node {node} can only evict pods with spec.nodeName set to "
                                    "itself")
        return None

    # ---- nodes ---------------------------------------------------------------------------
    def _node(self, node, attrs):
        if attrs.name != node:
            raise _forbidden(attrs, f'node "{node}" is not allowed to modify node "{attrs.name}"')
        new, old = attrs.obj or {}, attrs.old or {}
        if attrs.operation == "CREATE":
            if _spec(new).get("configSource") is not None:
                raise _forbidden(attrs, f'node "{node}" is not allowed to create pods with a '
                                        "non-nil configSource")
            bad = forbidden_labels(_meta(new).get("labels") or {}, {})
            if bad:
                raise _forbidden(attrs, f'node "{node}" is not allowed to set the following '
                                        f"labels: {', '.join(bad)}")
        elif attrs.operation == "UPDATE":
            source = _spec(new).get("configSource")
            if source is not None and source != _spec(old).get("configSource"):
                raise _forbidden(attrs, f'node "{node}" is not allowed to update configSource to '
                                        "a new non-nil configSource")
            if (_spec(new).get("taints") or []) != (_spec(old).get("taints") or []):
                raise _forbidden(attrs, f'node "{node}" is not allowed to modify taints')
            bad = forbidden_labels(_meta(new).get("labels") or {}, _meta(old).get("labels") or {})
            if bad:
                raise _forbidden(attrs, f"is not allowed to modify labels: {', '.join(bad)}")
        return None

    # ---- claims, tokens, leases, CSINodes --------------------------------------------------
    def _pvc_status(self, node, attrs):
        if attrs.operation != "UPDATE":
            raise _forbidden(attrs, f'unexpected operation "{attrs.operation}"')
        new, old = _comparable_claim(attrs.obj), _comparable_claim(attrs.old)
        if new != old:
            raise _forbidden(attrs, f'node "{node}" is not allowed to update fields other than '
                                    f"status.capacity and status.conditions: {_diff(old, new)}")
        return None

    def _service_account(self, node, attrs):
        if attrs.operation != "CREATE" or attrs.subresource != "token":
            return None
        ref = _spec(attrs.obj).get("boundObjectRef")
        if not isinstance(ref, dict) or ref.get("apiVersion") != "v1" \
                or ref.get("kind") != "Pod" or not ref.get("name"):
            raise _forbidden(attrs, "node requested token not bound to a pod")
        if not ref.get("uid"):
            raise _forbidden(attrs, "node requested token with a pod binding without a uid")
        pod = self._get("", "v1", "pods", attrs.namespace, ref["name"])
        if ref["uid"] != _meta(pod).get("uid"):
            raise _forbidden(attrs, f"the UID in the bound object reference ({ref['uid']}) does "
                                    "not match the UID in record. The object might have been "
                                    "deleted and then recreated")
        if _spec(pod).get("nodeName") != node:
            raise _forbidden(attrs, "node requested token bound to a pod scheduled on a "
                                    "different node")
        return None

    def _lease(self, node, attrs):
        if attrs.namespace != NODE_LEASE_NAMESPACE:
            raise _forbidden(attrs, f'can only access leases in the "{NODE_LEASE_NAMESPACE}" '
                                    "system namespace")
        if _own_name(attrs) != node:
            raise _forbidden(attrs, "can only access node lease with the same name as the "
                                    "requesting node")
        return None

    def _csinode(self, node, attrs):
        if _own_name(attrs) != node:
            raise _forbidden(attrs, "can only access CSINode with the same name as the "
                                    "requesting node")
        return None

    # ---- reads ---------------------------------------------------------------------------
    def _get(self, group, version, plural, namespace, name) -> dict:
        """The stored object (a NotFound when there is none, as upstream returns the
        lister's error)."""
        store = self.stores.store(group, version, plural)
        found = store.storage.get(store.resource, namespace, name)
        if found is None:
            raise errors.NotFound.for_object(plural, group, name)
        return orjson.loads(found[0])


def _own_name(attrs) -> str:
    """The object's name: a create's from the object (its request names none upstream)."""
    if attrs.operation == "CREATE":
        return _meta(attrs.obj).get("name") or ""
    return attrs.name


def _claim_statuses(pod) -> list:
    return [(s.get("name"), s.get("resourceClaimName"))
            for s in ((pod or {}).get("status") or {}).get("resourceClaimStatuses") or []
            if isinstance(s, dict)]


def _comparable_claim(pvc) -> dict:
    """A PVC without what a node may change in its status (and what every write changes)."""
    pvc = copy.deepcopy(pvc or {})
    meta = pvc.get("metadata") or {}
    meta.pop("resourceVersion", None)
    meta.pop("managedFields", None)
    status = pvc.get("status") or {}
    # RecoverVolumeExpansionFailure (beta, on in 1.32) lets nodes write the allocation too
    for key in ("capacity", "conditions", "allocatedResourceStatuses", "allocatedResources"):
        status.pop(key, None)
    if "status" in pvc and not status:
        pvc.pop("status")
    return pvc


def _diff(old: dict, new: dict, path: str = "") -> str:
    """The paths that differ (upstream prints a Go ``cmp.Diff`` of the objects here)."""
    if isinstance(old, dict) and isinstance(new, dict):
        parts = [_diff(old.get(k), new.get(k), f"{path}.{k}" if path else k)
                 for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
        return ", ".join(p for p in parts if p)
    return f"{path}: {orjson.dumps(old).decode()} -> {orjson.dumps(new).decode()}"
