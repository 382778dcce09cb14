"""Dynamic provisioning as the persistentvolume-binder controller does it (upstream
pkg/controller/volume/persistentvolume/pv_controller.go ``provisionClaim``,
``provisionClaimOperation(External)`` and pkg/volume/hostpath/host_path.go), written as
functions of the controller (``ctl``, a ``pvbinder.PersistentVolumeBinder``).

* A class whose provisioner is external (any name outside ``kubernetes.io/``, or an in-tree
  name CSI migration hands over) gets the claim annotated with
  ``volume.kubernetes.io/storage-provisioner`` (and its beta twin) and an
  ExternalProvisioning event: that provisioner creates the volume, the binder binds it.
* ``kubernetes.io/host-path`` is the one in-tree provisioner here, off unless the manager
  runs with ``--enable-hostpath-provisioner`` (upstream's flag, for single-node testing): it
  makes a directory under ``/tmp/hostpath_pv/`` and a volume ``pvc-<claim uid>`` pre-bound to
  the claim (the claim's sync then binds it), with a ProvisioningSucceeded event.  Deleting
  such a volume removes its directory.
* Any other ``kubernetes.io/`` name (``kubernetes.io/no-provisioner`` for local volumes
  included) has no plugin: a ProvisioningFailed event, as upstream's plugin lookup fails.
"""
from __future__ import annotations

import copy
import os
import shutil
import uuid

from apiserver.client import ApiError

from . import pvbinder_util as pu

HOST_PATH = "kubernetes.io/host-path"
HOST_PATH_BASE = "/tmp/hostpath_pv"
CREATED_BY = "kubernetes.io/createdby"
# in-tree provisioner names whose volumes CSI migration hands to an external provisioner
MIGRATED = ("kubernetes.io/aws-ebs", "kubernetes.io/gce-pd", "kubernetes.io/azure-disk",
            "kubernetes.io/azure-file", "kubernetes.io/cinder", "kubernetes.io/vsphere-volume",
            "kubernetes.io/portworx-volume")
WAITING_PROVISIONER = ("Waiting for a volume to be created either by the external provisioner "
                       "'{}' or manually by the system administrator. If volume creation is "
                       "delayed, please verify that the provisioner is running and correctly "
                       "registered.")


async def provision_claim(ctl, claim: dict) -> None:
    """``provisionClaim``: see the module docstring."""
    name = pu.claim_class(claim)
    sc = ctl.storage_class(name)
    if sc is None:
        ctl.recorder.record(claim, "Warning", "ProvisioningFailed",
                            f'storageclass.storage.k8s.io "{name}" not found')
        return
    provisioner = sc.get("provisioner") or ""
    if provisioner == HOST_PATH:
        await provision_host_path(ctl, claim, sc)
        return
    if provisioner.startswith("kubernetes.io/") and provisioner not in MIGRATED:
        ctl.recorder.record(claim, "Warning", "ProvisioningFailed",
                            f"no volume plugin matched name: {provisioner}")
        return
    claim = await set_claim_provisioner(ctl, claim, provisioner)
    ctl.recorder.record(claim, "Normal", "ExternalProvisioning",
                        WAITING_PROVISIONER.format(provisioner))


async def set_claim_provisioner(ctl, claim: dict, provisioner: str) -> dict:
    """``setClaimProvisioner``: both provisioner annotations, unless already there."""
    if pu.annotations(claim).get(pu.ANN_BETA_STORAGE_PROVISIONER) == provisioner:
        return claim
    body = copy.deepcopy(claim)
    ann = body["metadata"].setdefault("annotations", {})
    ann[pu.ANN_BETA_STORAGE_PROVISIONER] = provisioner
    ann[pu.ANN_STORAGE_PROVISIONER] = provisioner
    return await ctl.update_claim(body)


async def provision_host_path(ctl, claim: dict, sc: dict) -> None:
    """``provisionClaimOperation`` with the hostPath plugin."""
    claim = await set_claim_provisioner(ctl, claim, HOST_PATH)
    if not ctl.enable_host_path_provisioner:
        ctl.recorder.record(claim, "Warning", "ProvisioningFailed",
                            "Failed to create provisioner: provisioning in volume plugin "
                            f'"{HOST_PATH}" is disabled')
        return
    pv_name = f"pvc-{claim['metadata']['uid']}"
    if ctl.volume(pv_name) is not None:
        return                          # an earlier sync provisioned it already
    if sc.get("mountOptions"):
        ctl.recorder.record(claim, "Warning", "ProvisioningFailed",
                            "Mount options are not supported by the provisioner but StorageClass "
                            f'"{sc["metadata"]["name"]}" has mount options '
                            f"[{' '.join(sc['mountOptions'])}]")
        return
    spec = claim.get("spec") or {}
    if spec.get("volumeMode") == "Block":
        ctl.recorder.record(claim, "Warning", "ProvisioningFailed",
                            f'Failed to provision volume with StorageClass '
                            f'"{sc["metadata"]["name"]}": {HOST_PATH} does not support block '
                            "volume provisioning")
        return
    path = f"{HOST_PATH_BASE}/{uuid.uuid4()}"
    try:
        os.makedirs(path, mode=0o750, exist_ok=True)
    except OSError as exc:
        ctl.recorder.record(claim, "Warning", "ProvisioningFailed",
                            f'Failed to provision volume with StorageClass '
                            f'"{sc["metadata"]["name"]}": {exc}')
        return
    volume = {
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": pv_name, "annotations": {
            CREATED_BY: "hostpath-dynamic-provisioner", pu.ANN_BOUND_BY_CONTROLLER: "yes",
            pu.ANN_DYNAMICALLY_PROVISIONED: HOST_PATH}},
        "spec": {"persistentVolumeReclaimPolicy": sc.get("reclaimPolicy") or "Delete",
                 "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"]),
                 "capacity": {"storage": ((spec.get("resources") or {}).get("requests")
                                          or {}).get("storage", "0")},
                 "hostPath": {"path": path},
                 "claimRef": pu.claim_reference(claim),
                 "storageClassName": pu.claim_class(claim),
                 "volumeMode": spec.get("volumeMode") or "Filesystem"}}
    try:
        created = await ctl.client.create("/api/v1/persistentvolumes", volume)
        ctl.remember(created)
    except ApiError as exc:
        shutil.rmtree(path, ignore_errors=True)  # the volume that exists has its own path
        if exc.status != 409:                    # AlreadyExists: saved by an earlier try
            raise
    ctl.recorder.record(claim, "Normal", "ProvisioningSucceeded",
                        f"Successfully provisioned volume {pv_name} using {HOST_PATH}")
    ctl.queue.add(f"claim:{claim['metadata']['namespace']}/{claim['metadata']['name']}")


def remove_host_path(volume: dict) -> None:
    """The hostPath deleter, for volumes this provisioner made: their directory goes (only
    under ``/tmp/hostpath_pv/``, a narrower rule than upstream's ``/tmp/.+``)."""
    if pu.annotations(volume).get(pu.ANN_DYNAMICALLY_PROVISIONED) != HOST_PATH:
        return
    path = ((volume.get("spec") or {}).get("hostPath") or {}).get("path") or ""
    real = os.path.realpath(path)
    if real.startswith(HOST_PATH_BASE + "/") and real != HOST_PATH_BASE + "/":
        shutil.rmtree(real, ignore_errors=True)
