"""What the persistentvolume-binder controller asks of claims and volumes, free of I/O
(upstream pkg/controller/volume/persistentvolume/index.go, pv_controller.go and
component-helpers storage/volume/pv_helpers.go, helpers.go):

* the annotations and class helpers (``GetPersistentVolumeClaimClass`` reads the beta
  annotation before ``spec.storageClassName``);
* ``find_best_match``: upstream's ``findByClaim`` — volumes are grouped by their set of
  access modes, the groups holding every mode the claim asks for are tried from the fewest
  modes up, and within a group ``FindMatchingVolume`` returns a volume pre-bound to the
  claim, else the smallest Available one of the claim's class, volume mode, selector and
  size (and, when a node is known, whose node affinity admits it);
* ``check_volume_satisfies_claim``: ``checkVolumeSatisfyClaim``'s error texts for a claim
  that names its volume.
"""
from __future__ import annotations

from workers.scheduler import quantity
from workers.scheduler.selectors import node_selector_matches

from . import selectors

ANN_BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
ANN_BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
ANN_SELECTED_NODE = "volume.kubernetes.io/selected-node"
ANN_BETA_STORAGE_CLASS = "volume.beta.kubernetes.io/storage-class"
ANN_STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
ANN_BETA_STORAGE_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner"
ANN_DYNAMICALLY_PROVISIONED = "pv.kubernetes.io/provisioned-by"
ANN_DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
ANN_BETA_DEFAULT_CLASS = "storageclass.beta.kubernetes.io/is-default-class"
NO_PROVISIONER = "kubernetes.io/no-provisioner"


def annotations(obj: dict) -> dict:
    return (obj.get("metadata") or {}).get("annotations") or {}


def claim_class(claim: dict) -> str:
    """``GetPersistentVolumeClaimClass``."""
    ann = annotations(claim)
    if ANN_BETA_STORAGE_CLASS in ann:
        return ann[ANN_BETA_STORAGE_CLASS]
    return (claim.get("spec") or {}).get("storageClassName") or ""


def volume_class(volume: dict) -> str:
    """``GetPersistentVolumeClass``."""
    ann = annotations(volume)
    if ANN_BETA_STORAGE_CLASS in ann:
        return ann[ANN_BETA_STORAGE_CLASS]
    return (volume.get("spec") or {}).get("storageClassName") or ""


def storage(resources: dict | None) -> int:
    return quantity.to_int("storage", (resources or {}).get("storage"))


def requested_storage(claim: dict) -> int:
    return storage(((claim.get("spec") or {}).get("resources") or {}).get("requests"))


def volume_storage(volume: dict) -> int:
    return storage((volume.get("spec") or {}).get("capacity"))


def volume_mode_mismatch(claim: dict, volume: dict) -> bool:
    """``CheckVolumeModeMismatches`` (an unset mode is Filesystem)."""
    want = (claim.get("spec") or {}).get("volumeMode") or "Filesystem"
    have = (volume.get("spec") or {}).get("volumeMode") or "Filesystem"
    return want != have


def is_bound_to(volume: dict, claim: dict) -> bool:
    """``IsVolumeBoundToClaim``: the claimRef names the claim (a ref without uid is a
    pre-binding and counts)."""
    ref = (volume.get("spec") or {}).get("claimRef")
    if not ref:
        return False
    m = claim["metadata"]
    return ref.get("name") == m["name"] and ref.get("namespace") == m.get("namespace") and \
        (not ref.get("uid") or ref.get("uid") == m.get("uid"))


def access_modes_ok(claim: dict, volume: dict) -> bool:
    """``CheckAccessModes``: the volume offers every mode the claim asks for."""
    have = set((volume.get("spec") or {}).get("accessModes") or [])
    return set((claim.get("spec") or {}).get("accessModes") or []) <= have


def _node_ok(volume: dict, node: dict | None) -> bool:
    if node is None:
        return True
    required = (((volume.get("spec") or {}).get("nodeAffinity") or {}).get("required"))
    return node_selector_matches(required, node) if required is not None else True


def find_matching_volume(claim: dict, volumes: list[dict], delay_binding: bool,
                         node: dict | None = None) -> dict | None:
    """``FindMatchingVolume`` over one access-mode group."""
    requested, wanted_class = requested_storage(claim), claim_class(claim)
    selector = (claim.get("spec") or {}).get("selector")
    best, best_size = None, None
    for volume in volumes:
        if (volume.get("spec") or {}).get("claimRef") and not is_bound_to(volume, claim):
            continue
        size = volume_storage(volume)
        if size < requested or volume_mode_mismatch(claim, volume):
            continue
        if volume["metadata"].get("deletionTimestamp"):
            continue
        node_ok = _node_ok(volume, node)
        if is_bound_to(volume, claim):
            return volume if node_ok else None        # pre-bound: this one or none
        if node is None and delay_binding:
            continue                                  # the first consumer decides
        if (volume.get("status") or {}).get("phase") != "Available":
            continue
        if selector is not None and not selectors.matches(selector,
                                                          volume["metadata"].get("labels")):
            continue
        if volume_class(volume) != wanted_class or not node_ok:
            continue
        if node is not None and not access_modes_ok(claim, volume):
            continue
        if best is None or best_size > size:
            best, best_size = volume, size
    return best


def find_best_match(claim: dict, volumes: list[dict], delay_binding: bool,
                    node: dict | None = None) -> dict | None:
    """``persistentVolumeOrderedIndex.findByClaim`` (see the module docstring)."""
    wanted = set((claim.get("spec") or {}).get("accessModes") or [])
    groups: dict[frozenset, list[dict]] = {}
    for v in sorted(volumes, key=lambda v: v["metadata"]["name"]):
        groups.setdefault(frozenset((v.get("spec") or {}).get("accessModes") or []),
                          []).append(v)
    for modes in sorted((m for m in groups if wanted <= m), key=lambda m: (len(m), sorted(m))):
        found = find_matching_volume(claim, groups[modes], delay_binding, node)
        if found is not None:
            return found
    return None


def check_volume_satisfies_claim(volume: dict, claim: dict) -> str | None:
    """``checkVolumeSatisfyClaim``: why ``volume`` cannot serve ``claim`` (None: it can)."""
    if volume["metadata"].get("deletionTimestamp"):
        return f'the volume is marked for deletion "{volume["metadata"]["name"]}"'
    if requested_storage(claim) > volume_storage(volume):
        return "requested PV is too small"
    if volume_class(volume) != claim_class(claim):
        return "storageClassName does not match"
    if volume_mode_mismatch(claim, volume):
        return "incompatible volumeMode"
    if not access_modes_ok(claim, volume):
        return "incompatible accessMode"
    return None


def claim_reference(claim: dict) -> dict:
    """``reference.GetReference`` of a claim, as a volume's ``spec.claimRef``."""
    m = claim["metadata"]
    return {"kind": "PersistentVolumeClaim", "namespace": m.get("namespace"),
            "name": m["name"], "uid": m.get("uid"), "apiVersion": "v1",
            "resourceVersion": m.get("resourceVersion")}


def pod_claims(pod: dict) -> list[str]:
    """The claims a pod uses: ``persistentVolumeClaim`` volumes and generic ephemeral
    volumes (whose claim is ``<pod>-<volume>``)."""
    names = []
    for v in (pod.get("spec") or {}).get("volumes") or []:
        if (v.get("persistentVolumeClaim") or {}).get("claimName"):
            names.append(v["persistentVolumeClaim"]["claimName"])
        elif v.get("ephemeral") is not None:
            names.append(f"{pod['metadata']['name']}-{v.get('name')}")
    return names


def default_class(classes: list[dict]) -> dict | None:
    """``GetDefaultClass``: of the classes marked default, the newest (ties: first by name)."""
    marked = [c for c in classes
              if annotations(c).get(ANN_DEFAULT_CLASS) == "true"
              or annotations(c).get(ANN_BETA_DEFAULT_CLASS) == "true"]
    if not marked:
        return None
    marked.sort(key=lambda c: c["metadata"]["name"])
    marked.sort(key=lambda c: c["metadata"].get("creationTimestamp") or "", reverse=True)
    return marked[0]
