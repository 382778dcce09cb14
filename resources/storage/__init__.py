"""storage.k8s.io/v1: StorageClasses, CSIDrivers, CSINodes, CSIStorageCapacities,
VolumeAttachments.  ``KINDS`` lists its Strategy classes."""

KINDS = ()
