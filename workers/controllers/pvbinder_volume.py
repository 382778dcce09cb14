"""The volume half of the persistentvolume-binder controller (upstream
pkg/controller/volume/persistentvolume/pv_controller.go: ``syncVolume``, ``reclaimVolume``,
``unbindVolume``), written as functions of the controller (``ctl``, a
``pvbinder.PersistentVolumeBinder``) so each module stays one idea.

A volume's claim is looked up by its ``claimRef``; a claim with another uid is a new claim
under the old name and counts as gone.  Static volumes have nothing behind them here, so
reclaiming is bookkeeping: Retain leaves the Released volume alone, Delete deletes the
object (unless an external provisioner made it, whose deleter does that), Recycle unbinds it
back to Available with a VolumeRecycled event.
"""
from __future__ import annotations

import copy

from apiserver.client import ApiError

from . import pvbinder_util as pu
from .pvbinder_provision import remove_host_path


async def sync_volume(ctl, volume: dict) -> None:
    """``syncVolume``: bring the volume's phase in line with its claim; reclaim it when the
    claim is gone."""
    ref = (volume.get("spec") or {}).get("claimRef")
    if not ref:
        await ctl.update_volume_phase(volume, "Available")
        return
    if not ref.get("uid"):
        # pre-bound by the user to a claim that has not bound yet: the claim's sync binds it
        await ctl.update_volume_phase(volume, "Available")
        return
    ns, name = ref.get("namespace"), ref.get("name")
    claim = ctl.claim(ns, name)
    if claim is None:
        claim = await ctl.get_claim_live(ns, name)       # the cache may be behind
    if claim is not None and claim["metadata"].get("uid") != ref.get("uid"):
        claim = None                                     # deleted and created again
    if claim is None:
        phase = (volume.get("status") or {}).get("phase")
        if phase not in ("Released", "Failed"):
            # a Failed volume keeps its phase, so the user sees what went wrong
            volume = await ctl.update_volume_phase(volume, "Released")
        await reclaim_volume(ctl, volume)
        return
    claimed_volume = (claim.get("spec") or {}).get("volumeName")
    if not claimed_volume:
        if pu.volume_mode_mismatch(claim, volume):
            ctl.recorder.record(volume, "Warning", "VolumeMismatch",
                                f'Cannot bind PersistentVolume to requested '
                                f'PersistentVolumeClaim "{name}" due to incompatible volumeMode.')
            ctl.recorder.record(claim, "Warning", "VolumeMismatch",
                                f'Cannot bind PersistentVolume "{volume["metadata"]["name"]}" '
                                "to requested PersistentVolumeClaim due to incompatible "
                                "volumeMode.")
            return
        # the binding is half done (or was undone by a user): the claim's sync completes it
        ctl.queue.add(f"claim:{ns}/{name}")
        return
    if claimed_volume == volume["metadata"]["name"]:
        await ctl.update_volume_phase(volume, "Bound")
        return
    # the claim went to another volume
    ann = pu.annotations(volume)
    if pu.ANN_DYNAMICALLY_PROVISIONED in ann and \
            (volume.get("spec") or {}).get("persistentVolumeReclaimPolicy") == "Delete":
        if (volume.get("status") or {}).get("phase") not in ("Released", "Failed"):
            volume = await ctl.update_volume_phase(volume, "Released")
        await reclaim_volume(ctl, volume)
        return
    await unbind_volume(ctl, volume)


async def reclaim_volume(ctl, volume: dict) -> None:
    """``reclaimVolume`` by ``persistentVolumeReclaimPolicy``."""
    policy = (volume.get("spec") or {}).get("persistentVolumeReclaimPolicy") or "Retain"
    if policy == "Retain":
        return
    if policy == "Recycle":
        await unbind_volume(ctl, volume)
        ctl.recorder.record(volume, "Normal", "VolumeRecycled", "Volume recycled")
        return
    if policy == "Delete":
        await delete_volume(ctl, volume)
        return
    if (volume.get("status") or {}).get("phase") != "Failed":
        await ctl.update_volume_phase(volume, "Failed",
                                      "Volume has unrecognized PersistentVolumeReclaimPolicy")
        ctl.recorder.record(volume, "Warning", "VolumeUnknownReclaimPolicy",
                            "Volume has unrecognized PersistentVolumeReclaimPolicy")


async def delete_volume(ctl, volume: dict) -> None:
    """``deleteVolumeOperation``: an externally provisioned volume waits for its
    provisioner's deleter; any other is deleted (uid-preconditioned), a hostPath-provisioned
    one with its directory."""
    provisioner = pu.annotations(volume).get(pu.ANN_DYNAMICALLY_PROVISIONED)
    if provisioner and not provisioner.startswith("kubernetes.io/"):
        return
    remove_host_path(volume)
    m = volume["metadata"]
    try:
        await ctl.client.delete(f"/api/v1/persistentvolumes/{m['name']}",
                                {"preconditions": {"uid": m["uid"]}})
    except ApiError as exc:
        if exc.status not in (404, 409):
            raise


async def unbind_volume(ctl, volume: dict) -> dict:
    """``unbindVolume``: a volume the controller bound loses its claimRef and annotation;
    one the user pre-bound keeps the ref without its uid; then it is Available."""
    body = copy.deepcopy(volume)
    ann = dict(body["metadata"].get("annotations") or {})
    if pu.ANN_BOUND_BY_CONTROLLER in ann:
        body["spec"].pop("claimRef", None)
        ann.pop(pu.ANN_BOUND_BY_CONTROLLER)
        body["metadata"]["annotations"] = ann
    else:
        body["spec"]["claimRef"] = {k: v for k, v in body["spec"]["claimRef"].items()
                                    if k != "uid"}
    updated = ctl.remember(await ctl.client.update(
        f"/api/v1/persistentvolumes/{volume['metadata']['name']}", body))
    return await ctl.update_volume_phase(updated, "Available")
