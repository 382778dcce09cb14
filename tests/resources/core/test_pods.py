"""Pod strategy hooks, called directly: defaults, QoS, validation, updates, grace, table.

Upstream references: pkg/apis/core/v1/defaults_test.go, pkg/apis/core/validation
(TestValidatePodSpec / TestValidatePodUpdate), pkg/registry/core/pod/strategy_test.go
(TestCheckGracefulDelete), pkg/printers/internalversion/printers_test.go (TestPrintPod*).
"""
from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

import pytest

from resources.core.pod_defaults import image_pull_policy, qos_class
from resources.core.pod_validation import UPDATABLE_FIELDS
from resources.core.pods import PodStrategy
from apiserver.registry.context import RequestContext

S = PodStrategy()


def pod(*containers, **spec) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "default",
                         "creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"containers": list(containers) or [{"name": "app", "image": "nginx"}], **spec}}


def created(p: dict) -> dict:
    S.default(p)
    S.prepare_for_create(RequestContext(), p)
    return p


def texts(errs) -> list[str]:
    return [e.error_text() for e in errs]


def ago(**kw) -> str:
    return (datetime.now(timezone.utc) - timedelta(**kw)).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- defaults ----------------------------------------------------------------------------

def test_pod_spec_defaults():
    p = created(pod())
    spec = p["spec"]
    assert spec["restartPolicy"] == "Always"
    assert spec["dnsPolicy"] == "ClusterFirst"
    assert spec["schedulerName"] == "default-scheduler"
    assert spec["terminationGracePeriodSeconds"] == 30
    assert spec["securityContext"] == {}
    assert spec["enableServiceLinks"] is True
    assert spec["priority"] == 0 and spec["preemptionPolicy"] == "PreemptLowerPriority"
    assert spec["serviceAccountName"] == "default"
    c = spec["containers"][0]
    assert c["terminationMessagePath"] == "/dev/termination-log"
    assert c["terminationMessagePolicy"] == "File"
    assert c["imagePullPolicy"] == "Always"
    assert c["resources"] == {}
    assert p["status"] == {"phase": "Pending", "qosClass": "BestEffort"}


def test_no_priority_defaults_with_a_priority_class():
    p = created(pod(priorityClassName="high"))
    assert "priority" not in p["spec"] and "preemptionPolicy" not in p["spec"]


def test_defaults_are_idempotent():
    once = created(pod({"name": "a", "image": "nginx", "ports": [{"containerPort": 80}],
                        "resources": {"limits": {"cpu": "1"}},
                        "livenessProbe": {"httpGet": {"port": 80}}}))
    twice = copy.deepcopy(once)
    S.default(twice)
    assert twice == once


@pytest.mark.parametrize("image,policy", [
    ("nginx", "Always"), ("nginx:latest", "Always"), ("nginx:1.27", "IfNotPresent"),
    ("localhost:5000/nginx", "Always"), ("localhost:5000/nginx:v1", "IfNotPresent"),
    ("nginx@sha256:" + "a" * 64, "IfNotPresent"), ("", "IfNotPresent"),
    ("nginx:latest@sha256:" + "a" * 64, "Always"),      # tagged and digested: the tag counts
    # references ParseImageName refuses get tag "" upstream, so IfNotPresent
    ("NGINX", "IfNotPresent"), (" nginx", "IfNotPresent"), ("nginx@sha256:abc", "IfNotPresent"),
])
def test_image_pull_policy(image, policy):
    assert image_pull_policy(image) == policy


def test_pod_only_validation_rules():
    """validatePodMetadataAndSpec / ValidatePodCreate add to ValidatePodSpec for Pods only:
    image whitespace, hostPort == containerPort under hostNetwork, no ephemeral containers."""
    from resources.core.pod_defaults import default_pod
    from resources.core.pod_validation import validate_pod, validate_pod_template_spec
    spec = {"hostNetwork": True,
            "containers": [{"name": "a", "image": " nginx", "ports": [{"containerPort": 80,
                                                                      "hostPort": 81}]}],
            "ephemeralContainers": [{"name": "dbg", "image": "busybox"}]}
    p = {"metadata": {"name": "p"}, "spec": copy.deepcopy(spec)}
    default_pod(p)
    assert texts(validate_pod(p)) == [
        "spec.containers[0].ports[0].hostPort: Invalid value: 81: must match `containerPort` "
        "when `hostNetwork` is true",
        'spec.containers[0].image: Invalid value: " nginx": must not have leading or trailing '
        "whitespace",
        "spec.ephemeralContainers: Forbidden: cannot be set on create"]
    template = {"spec": copy.deepcopy(spec)}
    from resources.core.pod_defaults import default_pod_spec
    default_pod_spec(template["spec"])
    assert [e.field for e in validate_pod_template_spec(template, "spec.template")] == [
        "spec.template.spec.containers[0].ports[0].hostPort",
        "spec.template.spec.ephemeralContainers"]


def test_nested_defaults():
    p = created(pod({"name": "a", "image": "x:1", "ports": [{"containerPort": 80}],
                     "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}},
                     "readinessProbe": {"httpGet": {"port": 80}},
                     "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]},
                    volumes=[{"name": "v"}, {"name": "s", "secret": {"secretName": "x"}}]))
    c = p["spec"]["containers"][0]
    assert c["ports"][0]["protocol"] == "TCP"
    assert c["resources"]["requests"] == {"cpu": "500m", "memory": "1Gi"}   # from limits
    assert c["readinessProbe"] == {"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
                                   "timeoutSeconds": 1, "periodSeconds": 10,
                                   "successThreshold": 1, "failureThreshold": 3}
    assert c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"] == "v1"
    assert p["spec"]["volumes"][0] == {"name": "v", "emptyDir": {}}
    assert p["spec"]["volumes"][1]["secret"]["defaultMode"] == 420


def test_host_network_host_ports():
    p = created(pod({"name": "a", "image": "x", "ports": [{"containerPort": 8080}]}, hostNetwork=True))
    assert p["spec"]["containers"][0]["ports"][0]["hostPort"] == 8080


@pytest.mark.parametrize("resources,expected", [
    ({}, "BestEffort"),
    ({"requests": {"cpu": "100m"}}, "Burstable"),
    ({"limits": {"cpu": "1", "memory": "1Gi"}}, "Guaranteed"),          # requests from limits
    ({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}}, "Burstable"),
    ({"limits": {"cpu": "1"}}, "Burstable"),
    ({"requests": {"ephemeral-storage": "1Gi"}}, "BestEffort"),
])
def test_qos_class(resources, expected):
    p = created(pod({"name": "a", "image": "x", "resources": resources}))
    assert p["status"]["qosClass"] == expected == qos_class(p)


# ---- validation --------------------------------------------------------------------------

def test_containers_required():
    p = pod()
    p["spec"]["containers"] = []
    S.default(p)
    assert texts(S.validate(RequestContext(), p)) == ["spec.containers: Required value"]


def test_container_errors_with_upstream_paths():
    p = created(pod({"name": "Bad", "ports": [{"containerPort": 70000}, {"containerPort": 80, "protocol": "ICMP"}]},
                    {"name": "Bad", "image": "x"}, restartPolicy="Sometimes", dnsPolicy="Nope"))
    got = texts(S.validate(RequestContext(), p))
    assert got[0].startswith('spec.containers[0].name: Invalid value: "Bad": a lowercase RFC 1123 label')
    assert got[1] == "spec.containers[0].image: Required value"
    assert got[2] == ("spec.containers[0].ports[0].containerPort: Invalid value: 70000: "
                      "must be between 1 and 65535, inclusive")
    assert got[3] == ('spec.containers[0].ports[1].protocol: Unsupported value: "ICMP": '
                      'supported values: "SCTP", "TCP", "UDP"')
    assert 'spec.containers[1].name: Duplicate value: "Bad"' in got
    assert got[-2] == ('spec.restartPolicy: Unsupported value: "Sometimes": supported values: '
                       '"Always", "OnFailure", "Never"')
    assert got[-1] == ('spec.dnsPolicy: Unsupported value: "Nope": supported values: '
                       '"ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"')


def test_names_unique_across_init_containers():
    p = created(pod(initContainers=[{"name": "app", "image": "x"}]))
    assert texts(S.validate(RequestContext(), p)) == ['spec.initContainers[0].name: Duplicate value: "app"']


def test_volume_mounts_and_resources():
    p = created(pod({"name": "a", "image": "x",
                     "volumeMounts": [{"name": "data", "mountPath": "/d"}, {"name": "v", "mountPath": "/d"}],
                     "resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}},
                    volumes=[{"name": "v"}]))
    assert texts(S.validate(RequestContext(), p)) == [
        'spec.containers[0].volumeMounts[0].name: Not found: "data"',
        'spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/d": must be unique',
        'spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1',
    ]


def test_valid_pod_has_no_errors():
    assert S.validate(RequestContext(), created(pod())) == []


# ---- update ------------------------------------------------------------------------------

def test_update_may_change_image():
    old = created(pod())
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "nginx:2"
    S.default(new)
    S.prepare_for_update(RequestContext(), new, old)
    assert S.validate_update(RequestContext(), new, old) == []


def test_update_of_other_fields_is_forbidden_with_upstream_message():
    old = created(pod())
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["ports"] = [{"containerPort": 81}]
    S.default(new)
    errs = S.validate_update(RequestContext(), new, old)
    assert len(errs) == 1 and errs[0].field == "spec" and errs[0].type == "FieldValueForbidden"
    assert errs[0].detail.startswith("pod updates may not change fields other than " + UPDATABLE_FIELDS + "\n")
    assert "spec.containers[0].ports" in errs[0].detail
    assert UPDATABLE_FIELDS.startswith("`spec.containers[*].image`,`spec.initContainers[*].image`,")


def test_update_node_name_forbidden_outside_binding():
    old = created(pod())
    new = copy.deepcopy(old)
    new["spec"]["nodeName"] = "n1"
    assert [e.field for e in S.validate_update(RequestContext(), new, old)] == ["spec"]


def test_update_keeps_status_and_admission_filled_fields():
    old = created(pod())
    old["status"]["phase"] = "Running"
    new = pod()
    S.default(new)
    S.prepare_for_update(RequestContext(), new, old)
    assert new["status"]["phase"] == "Running"
    assert new["spec"]["serviceAccountName"] == "default" and new["spec"]["priority"] == 0
    assert S.validate_update(RequestContext(), new, old) == []


def test_tolerations_may_only_be_added():
    t = {"key": "k", "operator": "Exists", "effect": "NoSchedule"}
    old = created(pod(tolerations=[t]))
    added = copy.deepcopy(old)
    added["spec"]["tolerations"].append({"key": "j", "operator": "Exists"})
    assert S.validate_update(RequestContext(), added, old) == []
    removed = copy.deepcopy(old)
    removed["spec"]["tolerations"] = []
    assert "spec.tolerations: Forbidden: existing toleration can not be modified except its " \
           "tolerationSeconds" in texts(S.validate_update(RequestContext(), removed, old))


def test_active_deadline_may_only_shrink():
    old = created(pod(activeDeadlineSeconds=100))
    new = copy.deepcopy(old)
    new["spec"]["activeDeadlineSeconds"] = 50
    assert S.validate_update(RequestContext(), new, old) == []
    new["spec"]["activeDeadlineSeconds"] = 200
    assert texts(S.validate_update(RequestContext(), new, old)) == [
        "spec.activeDeadlineSeconds: Invalid value: 200: must be less than or equal to previous value"]


# ---- graceful deletion -------------------------------------------------------------------

@pytest.mark.parametrize("node,phase,grace_spec,requested,expected", [
    ("", "Pending", 30, None, 0),            # never scheduled: immediate
    ("n1", "Pending", 30, None, 30),
    ("n1", "Running", 45, None, 45),
    ("n1", "Running", 30, 5, 5),
    ("n1", "Running", 30, 0, 0),             # --grace-period=0 --force
    ("n1", "Succeeded", 30, None, 0),
    ("n1", "Failed", 30, 10, 0),
    ("n1", "Running", -5, None, 1),          # negative periods become 1
])
def test_grace_period(node, phase, grace_spec, requested, expected):
    p = pod(terminationGracePeriodSeconds=grace_spec)
    if node:
        p["spec"]["nodeName"] = node
    p["status"] = {"phase": phase}
    assert S.grace_period(RequestContext(), p, requested) == expected


# ---- table -------------------------------------------------------------------------------

def test_columns_as_kubectl():
    assert [(c.name, c.priority) for c in S.columns] == [
        ("Name", 0), ("Ready", 0), ("Status", 0), ("Restarts", 0), ("Age", 0),
        ("IP", 1), ("Node", 1), ("Nominated Node", 1), ("Readiness Gates", 1)]
    assert S.columns[5].description.startswith("podIP address allocated to the pod")


def test_row_pending():
    row = S.table_row(created(pod()))
    assert row[:4] == ["web", "0/1", "Pending", "0"] and row[5:] == ["<none>"] * 4


def test_row_running_with_restarts_and_wide_cells():
    p = created(pod({"name": "a", "image": "x"}, {"name": "b", "image": "y"},
                    readinessGates=[{"conditionType": "g1"}, {"conditionType": "g2"}]))
    p["spec"]["nodeName"] = "n1"
    p["status"].update({
        "phase": "Running", "podIP": "10.244.0.5", "podIPs": [{"ip": "10.244.0.5"}],
        "conditions": [{"type": "Ready", "status": "True"}, {"type": "g1", "status": "True"}],
        "containerStatuses": [
            {"name": "a", "ready": True, "restartCount": 2, "state": {"running": {}},
             "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(minutes=5)}}},
            {"name": "b", "ready": True, "restartCount": 1, "state": {"running": {}}},
        ]})
    assert S.table_row(p)[1:4] == ["2/2", "Running", "3 (5m ago)"]
    assert S.table_row(p)[5:] == ["10.244.0.5", "n1", "<none>", "1/2"]


def test_row_waiting_reason_and_terminating():
    p = created(pod())
    p["status"]["containerStatuses"] = [
        {"name": "app", "ready": False, "restartCount": 0,
         "state": {"waiting": {"reason": "ImagePullBackOff"}}}]
    assert S.table_row(p)[2] == "ImagePullBackOff"
    p["metadata"]["deletionTimestamp"] = "2024-01-01T00:01:00Z"
    assert S.table_row(p)[2] == "Terminating"
    p["status"]["phase"] = "Succeeded"
    p["status"]["containerStatuses"] = [
        {"name": "app", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]
    assert S.table_row(p)[2] == "Completed"         # terminal phase: not "Terminating"


def test_row_init_containers():
    p = created(pod(initContainers=[{"name": "i1", "image": "x"}, {"name": "i2", "image": "x"}]))
    p["status"]["initContainerStatuses"] = [
        {"name": "i1", "state": {"terminated": {"exitCode": 0}}},
        {"name": "i2", "state": {"running": {}}}]
    assert S.table_row(p)[2] == "Init:1/2"
    p["status"]["initContainerStatuses"][1]["state"] = {"terminated": {"exitCode": 3}}
    assert S.table_row(p)[2] == "Init:ExitCode:3"


def test_selectable_fields():
    p = created(pod())
    p["spec"]["nodeName"] = "n1"
    p["status"]["podIPs"] = [{"ip": "10.0.0.1"}, {"ip": "fd00::1"}]
    fields = {k: f(p) for k, f in S.selectable_fields.items()}
    assert fields["spec.nodeName"] == "n1"
    assert fields["spec.hostNetwork"] == "false"
    assert fields["status.phase"] == "Pending"
    assert fields["status.podIPs"] == "10.0.0.1,fd00::1"
    assert fields["spec.serviceAccountName"] == "default"
