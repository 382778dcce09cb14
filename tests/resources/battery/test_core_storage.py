"""The generic battery for PersistentVolume, PersistentVolumeClaim, PodTemplate and
ReplicationController (ComponentStatus is computed, not stored: not here)."""
from __future__ import annotations

from tests.resources.battery.base import KindBattery
from tests.resources.battery.test_core import _set, container


class TestPersistentVolume(KindBattery):
    resource = "persistentvolumes"

    def valid(self, name):
        return {"metadata": {"name": name},
                "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                         "hostPath": {"path": "/data"}}}

    def invalid(self):
        v = self.valid
        return [(_set(v("no-modes"), "spec.accessModes", None), "spec.accessModes"),
                (_set(v("bad-mode"), "spec.accessModes", ["WriteSometimes"]), "spec.accessModes"),
                (_set(v("no-capacity"), "spec.capacity", None), "spec.capacity"),
                (_set(v("zero-capacity"), "spec.capacity", {"storage": "0"}),
                 "spec.capacity[storage]"),
                (_set(v("no-source"), "spec.hostPath", None), "spec"),
                (_set(v("two-sources"), "spec.nfs", {"server": "nfs", "path": "/x"}), "spec.nfs"),
                (_set(v("bad-policy"), "spec.persistentVolumeReclaimPolicy", "Keep"),
                 "spec.persistentVolumeReclaimPolicy"),
                (_set(v("bad-mode-2"), "spec.volumeMode", "Raw"), "spec.volumeMode")]


class TestPersistentVolumeClaim(KindBattery):
    resource = "persistentvolumeclaims"

    def valid(self, name):
        return {"metadata": {"name": name},
                "spec": {"accessModes": ["ReadWriteOnce"],
                         "resources": {"requests": {"storage": "1Gi"}}}}

    def invalid(self):
        v = self.valid
        return [(_set(v("no-modes"), "spec.accessModes", None), "spec.accessModes"),
                (_set(v("no-storage"), "spec.resources", {"requests": {}}),
                 "spec.resources[storage]"),
                (_set(v("zero-storage"), "spec.resources", {"requests": {"storage": "0"}}),
                 "spec.resources[storage]"),
                (_set(v("bad-mode"), "spec.volumeMode", "Raw"), "spec.volumeMode")]


class TestPodTemplate(KindBattery):
    resource = "podtemplates"

    def valid(self, name):
        return {"metadata": {"name": name},
                "template": {"metadata": {"labels": {"app": "web"}},
                             "spec": {"containers": [container()]}}}

    def invalid(self):
        v = self.valid
        return [(_set(v("no-containers"), "template.spec.containers", []), "template.spec.containers"),
                (_set(v("bad-label"), "template.metadata.labels", {"bad key!": "x"}),
                 "template.labels")]


class TestReplicationController(KindBattery):
    resource = "replicationcontrollers"

    def valid(self, name):
        return {"metadata": {"name": name},
                "spec": {"replicas": 2, "selector": {"app": "web"},
                         "template": {"metadata": {"labels": {"app": "web"}},
                                      "spec": {"containers": [container()]}}}}

    def invalid(self):
        v = self.valid
        return [(_set(v("negative"), "spec.replicas", -1), "spec.replicas"),
                (_set(v("mismatch"), "spec.selector", {"app": "other"}),
                 "spec.template.metadata.labels"),
                (_set(v("no-template"), "spec.template", None), "spec.template"),
                (_set(v("on-failure"), "spec.template.spec.restartPolicy", "OnFailure"),
                 "spec.template.spec.restartPolicy")]
