"""``kubectl api-resources`` as kube-apiserver 1.32 serves it by default: every resource
with its short names, namespaced flag, kind, group/version and verbs, compared with
upstream's whole list (a default 1.32 cluster's discovery; the verbs follow each kind's
REST storage, e.g. kubernetes/kubernetes:pkg/registry/core/namespace/storage/storage.go has
no DeleteCollection and pkg/registry/core/componentstatus/rest.go only Get and List)."""
from __future__ import annotations

import pytest

from tests.asgi import ASGIClient, in_process_app

ALL = "create,delete,deletecollection,get,list,patch,update,watch"
CREATE = "create"
# name, short names, group/version, namespaced, kind, verbs
UPSTREAM = """
bindings - v1 true Binding create
componentstatuses cs v1 false ComponentStatus get,list
configmaps cm v1 true ConfigMap ALL
endpoints ep v1 true Endpoints ALL
events ev v1 true Event ALL
limitranges limits v1 true LimitRange ALL
namespaces ns v1 false Namespace create,delete,get,list,patch,update,watch
nodes no v1 false Node ALL
persistentvolumeclaims pvc v1 true PersistentVolumeClaim ALL
persistentvolumes pv v1 false PersistentVolume ALL
pods po v1 true Pod ALL
podtemplates - v1 true PodTemplate ALL
replicationcontrollers rc v1 true ReplicationController ALL
resourcequotas quota v1 true ResourceQuota ALL
secrets - v1 true Secret ALL
serviceaccounts sa v1 true ServiceAccount ALL
services svc v1 true Service ALL
mutatingwebhookconfigurations - admissionregistration.k8s.io/v1 false MutatingWebhookConfiguration ALL
validatingadmissionpolicies - admissionregistration.k8s.io/v1 false ValidatingAdmissionPolicy ALL
validatingadmissionpolicybindings - admissionregistration.k8s.io/v1 false ValidatingAdmissionPolicyBinding ALL
validatingwebhookconfigurations - admissionregistration.k8s.io/v1 false ValidatingWebhookConfiguration ALL
customresourcedefinitions crd,crds apiextensions.k8s.io/v1 false CustomResourceDefinition ALL
apiservices - apiregistration.k8s.io/v1 false APIService ALL
controllerrevisions - apps/v1 true ControllerRevision ALL
daemonsets ds apps/v1 true DaemonSet ALL
deployments deploy apps/v1 true Deployment ALL
replicasets rs apps/v1 true ReplicaSet ALL
statefulsets sts apps/v1 true StatefulSet ALL
selfsubjectreviews - authentication.k8s.io/v1 false SelfSubjectReview create
tokenreviews - authentication.k8s.io/v1 false TokenReview create
localsubjectaccessreviews - authorization.k8s.io/v1 true LocalSubjectAccessReview create
selfsubjectaccessreviews - authorization.k8s.io/v1 false SelfSubjectAccessReview create
selfsubjectrulesreviews - authorization.k8s.io/v1 false SelfSubjectRulesReview create
subjectaccessreviews - authorization.k8s.io/v1 false SubjectAccessReview create
horizontalpodautoscalers hpa autoscaling/v2 true HorizontalPodAutoscaler ALL
cronjobs cj batch/v1 true CronJob ALL
jobs - batch/v1 true Job ALL
certificatesigningrequests csr certificates.k8s.io/v1 false CertificateSigningRequest ALL
leases - coordination.k8s.io/v1 true Lease ALL
endpointslices - discovery.k8s.io/v1 true EndpointSlice ALL
events ev events.k8s.io/v1 true Event ALL
flowschemas - flowcontrol.apiserver.k8s.io/v1 false FlowSchema ALL
prioritylevelconfigurations - flowcontrol.apiserver.k8s.io/v1 false PriorityLevelConfiguration ALL
ingressclasses - networking.k8s.io/v1 false IngressClass ALL
ingresses ing networking.k8s.io/v1 true Ingress ALL
networkpolicies netpol networking.k8s.io/v1 true NetworkPolicy ALL
runtimeclasses - node.k8s.io/v1 false RuntimeClass ALL
poddisruptionbudgets pdb policy/v1 true PodDisruptionBudget ALL
clusterrolebindings - rbac.authorization.k8s.io/v1 false ClusterRoleBinding ALL
clusterroles - rbac.authorization.k8s.io/v1 false ClusterRole ALL
rolebindings - rbac.authorization.k8s.io/v1 true RoleBinding ALL
roles - rbac.authorization.k8s.io/v1 true Role ALL
priorityclasses pc scheduling.k8s.io/v1 false PriorityClass ALL
csidrivers - storage.k8s.io/v1 false CSIDriver ALL
csinodes - storage.k8s.io/v1 false CSINode ALL
csistoragecapacities - storage.k8s.io/v1 true CSIStorageCapacity ALL
storageclasses sc storage.k8s.io/v1 false StorageClass ALL
volumeattachments - storage.k8s.io/v1 false VolumeAttachment ALL
"""
# served by the servers of other open issues: APIServices (the AggregatorServer)
NOT_YET: set = set()


def upstream() -> dict:
    rows = {}
    for line in UPSTREAM.strip().splitlines():
        name, short, gv, namespaced, kind, verbs = line.split()
        rows[(name, gv)] = (tuple(short.split(",")) if short != "-" else (), namespaced == "true",
                            kind, tuple(ALL.split(",") if verbs == "ALL" else verbs.split(",")))
    return rows


@pytest.fixture
def served(db) -> dict:
    """What ``kubectl api-resources`` reads: the preferred version of every group's
    resource list, subresources left out."""
    client = ASGIClient(in_process_app()[1])
    groups = client.get("/apis").json()["groups"]
    lists = [client.get("/api/v1").json()]
    lists += [client.get(f"/apis/{g['preferredVersion']['groupVersion']}").json() for g in groups]
    rows = {}
    for doc in lists:
        for r in doc["resources"]:
            if "/" in r["name"]:
                continue
            rows[(r["name"], doc["groupVersion"])] = (tuple(r.get("shortNames", ())),
                                                      r["namespaced"], r["kind"], tuple(r["verbs"]))
    return rows


def test_upstreams_list_has_58_resources():
    assert len(upstream()) == 58


def test_every_resource_is_served_as_upstream_serves_it(served):
    want = {k: v for k, v in upstream().items() if k not in NOT_YET}
    assert {k: served.get(k) for k in want} == want
    assert set(served) - set(want) == set(), "served beyond upstream's list"


def test_the_resources_still_missing_are_exactly_those_of_other_issues(served):
    assert {k for k in upstream() if k not in served} == NOT_YET
