"""The rest of kube-apiserver 1.32's built-in API, as a user meets it with kubectl:
manifests of storage, networking, policy and workload kinds applied and listed with
upstream's columns, ``kubectl scale rc``, an eviction a PodDisruptionBudget blocks,
``kubectl explain`` on every new kind, ComponentStatuses and the flow-control bootstrap."""
from __future__ import annotations

import json
import time

import pytest

MANIFEST = """
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: SC}
provisioner: example.com/disk
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: SC
  resources: {requests: {storage: 1Gi}}
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: IC}
spec: {controller: example.com/ingress-controller}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  ingressClassName: IC
  rules:
  - host: web.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all}
spec:
  podSelector: {}
  policyTypes: [Ingress]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: web}}
---
apiVersion: v1
kind: ReplicationController
metadata: {name: web}
spec:
  replicas: 0
  selector: {app: rc-web}
  template:
    metadata: {labels: {app: rc-web}}
    spec: {containers: [{name: web, image: nginx}]}
"""


def _manifest(namespace: str) -> str:
    # cluster-scoped names carry the namespace so tests can share the server
    return MANIFEST.replace("name: SC", f"name: sc-{namespace}").replace(
        "storageClassName: SC", f"storageClassName: sc-{namespace}").replace(
        "name: IC", f"name: ic-{namespace}").replace("ingressClassName: IC",
                                                    f"ingressClassName: ic-{namespace}")


def _headers(out: str) -> list[list[str]]:
    """The header line of each block ``kubectl get a,b,c`` prints."""
    blocks = [b for b in out.strip().split("\n\n") if b.strip()]
    return [b.splitlines()[0].split() for b in blocks]


def test_apply_and_list_with_upstreams_columns(kubectl, namespace):
    out = kubectl("apply", "-n", namespace, "-f", "-", input=_manifest(namespace)).stdout
    for line in ("storageclass.storage.k8s.io/sc-", "persistentvolumeclaim/data created",
                 "ingressclass.networking.k8s.io/ic-", "ingress.networking.k8s.io/web created",
                 "networkpolicy.networking.k8s.io/deny-all created",
                 "poddisruptionbudget.policy/web created", "replicationcontroller/web created"):
        assert line in out, out
    got = kubectl("get", "pvc,ing,netpol,pdb,rc", "-n", namespace).stdout
    heads = _headers(got)
    assert ["NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS", "MODES", "STORAGECLASS",
            "VOLUMEATTRIBUTESCLASS", "AGE"] in heads, got
    assert ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"] in heads, got
    assert ["NAME", "POD-SELECTOR", "AGE"] in heads, got
    assert ["NAME", "MIN", "AVAILABLE", "MAX", "UNAVAILABLE", "ALLOWED", "DISRUPTIONS",
            "AGE"] in heads, got
    assert ["NAME", "DESIRED", "CURRENT", "READY", "AGE"] in heads, got
    assert f"ingress.networking.k8s.io/web   ic-{namespace}   web.example.com" in \
        " ".join(got.split()) or "web.example.com" in got
    sc = kubectl("get", "sc", f"sc-{namespace}").stdout.splitlines()
    assert sc[0].split() == ["NAME", "PROVISIONER", "RECLAIMPOLICY", "VOLUMEBINDINGMODE",
                             "ALLOWVOLUMEEXPANSION", "AGE"]
    assert sc[1].split()[:5] == [f"sc-{namespace}", "example.com/disk", "Delete", "Immediate",
                                 "false"]
    pvc = json.loads(kubectl("get", "pvc", "data", "-n", namespace, "-o", "json").stdout)
    assert pvc["spec"]["volumeMode"] == "Filesystem" and pvc["status"]["phase"] == "Pending"
    pdb = json.loads(kubectl("get", "pdb", "web", "-n", namespace, "-o", "json").stdout)
    assert pdb["status"]["disruptionsAllowed"] == 0 and pdb["status"]["expectedPods"] == 0


def test_scale_a_replication_controller(kubectl, namespace):
    kubectl("apply", "-n", namespace, "-f", "-", input=_manifest(namespace))
    out = kubectl("scale", "rc", "web", "-n", namespace, "--replicas=3").stdout
    assert "replicationcontroller/web scaled" in out
    rc = json.loads(kubectl("get", "rc", "web", "-n", namespace, "-o", "json").stdout)
    assert rc["spec"]["replicas"] == 3
    # up runs the controller manager: its replicationcontroller controller makes the pods
    deadline = time.monotonic() + 30
    while (rc.get("status") or {}).get("replicas") != 3 and time.monotonic() < deadline:
        time.sleep(0.3)
        rc = json.loads(kubectl("get", "rc", "web", "-n", namespace, "-o", "json").stdout)
    assert rc["status"]["replicas"] == 3, rc["status"]
    pods = kubectl("get", "pods", "-n", namespace, "-l", "app=rc-web", "-o", "name").stdout.split()
    assert len(pods) == 3 and all(p.startswith("pod/web-") for p in pods), pods


def test_an_eviction_blocked_by_a_pdb_is_429(kubectl, namespace, server):
    kubectl("apply", "-n", namespace, "-f", "-", input=_manifest(namespace))
    kubectl("run", "web-0", "-n", namespace, "--image=nginx", "--labels=app=web")
    # a Pending pod may always be evicted (upstream eviction.go canIgnorePDB): make it Running
    kubectl("patch", "pod", "web-0", "-n", namespace, "--subresource=status", "--type=merge",
            "-p", '{"status":{"phase":"Running"}}')
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction",
                "metadata": {"name": "web-0", "namespace": namespace}}
    status, _, data = server.request(
        "POST", f"/api/v1/namespaces/{namespace}/pods/web-0/eviction", body=eviction)
    body = json.loads(data)
    assert status == 429, body
    assert body["reason"] == "TooManyRequests"
    assert body["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
    assert kubectl("get", "pod", "web-0", "-n", namespace, "-o", "name").stdout.strip() == \
        "pod/web-0"
    # without a budget in the way the pod is deleted
    kubectl("delete", "pdb", "web", "-n", namespace)
    status, _, data = server.request(
        "POST", f"/api/v1/namespaces/{namespace}/pods/web-0/eviction", body=eviction)
    assert status == 201, data
    gone = kubectl("get", "pod", "web-0", "-n", namespace, check=False)
    assert gone.returncode != 0 and "NotFound" in gone.stderr


@pytest.mark.parametrize("field", [
    "persistentvolume.spec.capacity", "persistentvolumeclaim.spec.accessModes",
    "podtemplate.template", "replicationcontroller.spec.replicas",
    "mutatingwebhookconfiguration.webhooks", "validatingwebhookconfiguration.webhooks",
    "validatingadmissionpolicy.spec", "validatingadmissionpolicybinding.spec",
    "certificatesigningrequest.spec.signerName",
    "flowschema.spec", "prioritylevelconfiguration.spec", "ingress.spec.rules",
    "ingressclass.spec.controller", "networkpolicy.spec.podSelector", "runtimeclass.handler",
    "poddisruptionbudget.spec.minAvailable", "storageclass.provisioner", "csidriver.spec",
    "csinode.spec", "csistoragecapacity.capacity", "volumeattachment.spec",
    "controllerrevision.data"])
def test_explain_knows_every_new_kind(kubectl, field):
    out = kubectl("explain", field).stdout
    assert out.startswith(("KIND:", "GROUP:")) and "FIELD:" in out, out


def test_component_statuses_report_what_this_server_knows(kubectl):
    cp = kubectl("get", "cs")
    lines = cp.stdout.splitlines()
    assert lines[0].split()[:3] == ["NAME", "STATUS", "MESSAGE"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows["etcd-0"][1] == "Healthy"
    assert {"scheduler", "controller-manager"} <= set(rows)


def test_flow_control_objects_exist_from_the_start(kubectl):
    names = kubectl("get", "flowschemas", "-o", "name").stdout.split()
    for name in ("exempt", "catch-all", "system-nodes", "global-default"):
        assert f"flowschema.flowcontrol.apiserver.k8s.io/{name}" in names
    levels = kubectl("get", "prioritylevelconfigurations", "-o", "name").stdout.split()
    assert "prioritylevelconfiguration.flowcontrol.apiserver.k8s.io/catch-all" in levels
