"""The generic battery for the storage.k8s.io/v1 kinds."""
from __future__ import annotations

from tests.resources.battery.base import KindBattery
from tests.resources.battery.test_core import _set

G = "storage.k8s.io"


class TestStorageClass(KindBattery):
    group, resource = G, "storageclasses"

    def valid(self, name):
        return {"metadata": {"name": name}, "provisioner": "ebs.csi.aws.com",
                "parameters": {"type": "gp3"}, "allowVolumeExpansion": True}

    def invalid(self):
        v = self.valid
        return [(_set(v("no-provisioner"), "provisioner", None), "provisioner"),
                (_set(v("bad-provisioner"), "provisioner", "a/b/c"), "provisioner"),
                (_set(v("bad-policy"), "reclaimPolicy", "Recycle"), "reclaimPolicy"),
                (_set(v("bad-mode"), "volumeBindingMode", "Later"), "volumeBindingMode"),
                (_set(v("bad-topology"), "allowedTopologies",
                      [{"matchLabelExpressions": [{"key": "zone", "values": []}]}]),
                 "allowedTopologies[0].matchLabelExpressions[0].values")]


class TestCSIDriver(KindBattery):
    group, resource = G, "csidrivers"

    def valid(self, name):
        return {"metadata": {"name": name}, "spec": {"attachRequired": False}}

    def invalid(self):
        v = self.valid
        return [(_set(v("bad-policy"), "spec.fsGroupPolicy", "Sometimes"), "spec.fsGroupPolicy"),
                (_set(v("bad-mode"), "spec.volumeLifecycleModes", ["Forever"]),
                 "spec.volumeLifecycleModes"),
                (_set(v("short-token"), "spec.tokenRequests",
                      [{"audience": "a", "expirationSeconds": 60}]),
                 "spec.tokenRequests[0].expirationSeconds"),
                (_set(v("Bad_Name"), "spec.attachRequired", True), "metadata.name")]


class TestCSINode(KindBattery):
    group, resource = G, "csinodes"

    def valid(self, name):
        return {"metadata": {"name": name},
                "spec": {"drivers": [{"name": "ebs.csi.aws.com", "nodeID": "i-0123",
                                      "topologyKeys": ["topology.ebs.csi.aws.com/zone"]}]}}

    def invalid(self):
        v = self.valid
        driver = {"name": "ebs.csi.aws.com", "nodeID": "i-0123"}
        return [(_set(v("no-node-id"), "spec.drivers", [{"name": "ebs.csi.aws.com"}]),
                 "spec.drivers[0].nodeID"),
                (_set(v("dup-driver"), "spec.drivers", [driver, driver]), "spec.drivers[1].name"),
                (_set(v("bad-driver"), "spec.drivers", [{**driver, "name": "Bad_Driver"}]),
                 "spec.drivers[0].name"),
                (_set(v("bad-key"), "spec.drivers", [{**driver, "topologyKeys": ["a/b/c"]}]),
                 "spec.drivers[0]")]


class TestCSIStorageCapacity(KindBattery):
    group, resource = G, "csistoragecapacities"

    def valid(self, name):
        return {"metadata": {"name": name}, "storageClassName": "fast",
                "capacity": "100Gi", "maximumVolumeSize": "10Gi",
                "nodeTopology": {"matchLabels": {"topology.kubernetes.io/zone": "a"}}}

    def invalid(self):
        v = self.valid
        return [(_set(v("no-class"), "storageClassName", None), "storageClassName"),
                (_set(v("bad-class"), "storageClassName", "Fast_Class"), "storageClassName"),
                (_set(v("negative"), "capacity", "-1Gi"), "capacity"),
                (_set(v("bad-topology"), "nodeTopology",
                      {"matchExpressions": [{"key": "zone", "operator": "Near"}]}),
                 "nodeTopology.matchExpressions[0].operator")]


class TestVolumeAttachment(KindBattery):
    group, resource = G, "volumeattachments"

    def valid(self, name):
        return {"metadata": {"name": name},
                "spec": {"attacher": "ebs.csi.aws.com", "nodeName": "node-a",
                         "source": {"persistentVolumeName": "pv-1"}}}

    def invalid(self):
        v = self.valid
        return [(_set(v("no-attacher"), "spec.attacher", None), "spec.attacher"),
                (_set(v("no-node"), "spec.nodeName", None), "spec.nodeName"),
                (_set(v("no-source"), "spec.source", {}), "spec.source"),
                (_set(v("two-sources"), "spec.source.inlineVolumeSpec", {"csi": {}}),
                 "spec.source"),
                (_set(v("in-tree"), "spec.attacher", "kubernetes.io/aws-ebs"), "spec.attacher")]
