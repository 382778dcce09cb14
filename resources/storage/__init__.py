"""storage.k8s.io/v1: StorageClasses, CSIDrivers, CSINodes, CSIStorageCapacities,
VolumeAttachments.  ``KINDS`` lists its Strategy classes."""

KINDS = (
    "resources.storage.storageclasses.StorageClassStrategy",
    "resources.storage.csidrivers.CSIDriverStrategy",
    "resources.storage.csinodes.CSINodeStrategy",
    "resources.storage.csistoragecapacities.CSIStorageCapacityStrategy",
    "resources.storage.volumeattachments.VolumeAttachmentStrategy",
)
