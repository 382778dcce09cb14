"""Round trips for core/v1 kinds and ObjectMeta: hand-encoded protobuf → decode_body → JSON.

Field numbers are copied by hand from upstream ``core/v1/generated.proto`` and
``meta/v1/generated.proto`` (k8s.io/api v0.32.5); the encoder is ``pbenc`` (google.protobuf
wire primitives), which shares nothing with the decoder.  Like Go, the encodings write
non-pointer scalars even when they are empty, so the tests also pin down that zero values of
``omitempty`` fields disappear while set pointer fields survive.
"""
import base64

from apiserver.runtime.protobuf import decode_body
from tests.apiserver.runtime.protobuf.pbenc import (envelope, int_or_string, ld, m, packed,
                                                    quantity, rs, s, smap, timestamp, v)

T2024 = 1704067200  # 2024-01-01T00:00:00Z


def go_meta(name="", namespace="", *extra):
    """ObjectMeta the way Go writes it: every non-pointer field present, zero or not."""
    return m(1, s(1, name), s(2, ""), s(3, namespace), s(4, ""), s(5, ""), s(6, ""), v(7, 0),
             m(8), *extra)


def test_configmap_data_and_binary_data():
    raw = (go_meta("cm", "ns") + smap(2, {"a": "1", "empty": ""})
           + smap(3, {"bin": b"\x00\xff\xfe"}, ld) + v(4, 1))
    got = decode_body(envelope("v1", "ConfigMap", raw))
    assert got == {"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "cm", "namespace": "ns"},
                   "data": {"a": "1", "empty": ""},
                   "binaryData": {"bin": base64.b64encode(b"\x00\xff\xfe").decode()},
                   "immutable": True}


def test_secret_data_string_data_and_type():
    raw = go_meta("s") + smap(2, {"k": b"v\x00"}, ld) + s(3, "Opaque") + smap(4, {"x": "y"})
    got = decode_body(envelope("v1", "Secret", raw))
    assert got == {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                   "data": {"k": "dgA="}, "type": "Opaque", "stringData": {"x": "y"}}


def test_namespace_and_empty_status():
    raw = go_meta("ns1") + m(2, rs(1, ["kubernetes"])) + m(3, s(1, ""))
    got = decode_body(envelope("v1", "Namespace", raw))
    assert got == {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns1"},
                   "spec": {"finalizers": ["kubernetes"]}, "status": {}}


def test_service_account_pointer_false_survives():
    raw = (go_meta("sa") + m(2, s(1, "Secret"), s(3, "tok"), s(5, "v1"))
           + m(3, s(1, "regcred")) + v(4, 0))
    got = decode_body(envelope("v1", "ServiceAccount", raw))
    assert got == {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa"},
                   "secrets": [{"kind": "Secret", "name": "tok", "apiVersion": "v1"}],
                   "imagePullSecrets": [{"name": "regcred"}],
                   "automountServiceAccountToken": False}


def test_full_object_meta():
    managed = m(17, s(1, "kubectl"), s(2, "Update"), s(3, "v1"), timestamp(4, T2024),
                s(6, "FieldsV1"), m(7, ld(1, b'{"f:data":{"f:a":{}}}')), s(8, ""))
    owner = m(13, s(1, "ReplicaSet"), s(3, "rs1"), s(4, "uid-1"), s(5, "apps/v1"), v(6, 1), v(7, 0))
    meta = m(1, s(1, "p"), s(2, "p-"), s(3, "ns"), s(4, ""), s(5, "u1"), s(6, "42"), v(7, 3),
             timestamp(8, T2024), timestamp(9, T2024 + 61), v(10, 30),
             smap(11, {"app": "web", "tier": ""}), smap(12, {"note": "x"}), owner,
             rs(14, ["example.com/f1", "example.com/f2"]), managed)
    got = decode_body(envelope("v1", "ConfigMap", meta))
    assert got["metadata"] == {
        "name": "p", "generateName": "p-", "namespace": "ns", "uid": "u1",
        "resourceVersion": "42", "generation": 3,
        "creationTimestamp": "2024-01-01T00:00:00Z",
        "deletionTimestamp": "2024-01-01T00:01:01Z", "deletionGracePeriodSeconds": 30,
        "labels": {"app": "web", "tier": ""}, "annotations": {"note": "x"},
        "ownerReferences": [{"kind": "ReplicaSet", "name": "rs1", "uid": "uid-1",
                             "apiVersion": "apps/v1", "controller": True,
                             "blockOwnerDeletion": False}],
        "finalizers": ["example.com/f1", "example.com/f2"],
        "managedFields": [{"manager": "kubectl", "operation": "Update", "apiVersion": "v1",
                           "time": "2024-01-01T00:00:00Z", "fieldsType": "FieldsV1",
                           "fieldsV1": {"f:data": {"f:a": {}}}}],
    }


def _container(name, image, *extra):
    return s(1, name) + s(2, image) + b"".join(extra)


def test_service_int_and_string_target_ports():
    ports = (m(1, s(1, "http"), s(2, "TCP"), v(3, 80), int_or_string(4, 8080), v(5, 0))
             + m(1, s(1, "web"), s(2, "TCP"), v(3, 81), int_or_string(4, "web"), v(5, 30081)))
    spec = m(2, ports, smap(2, {"app": "x"}), s(3, "10.0.0.1"), s(4, "NodePort"),
             rs(18, ["10.0.0.1"]), s(7, ""), v(13, 0))
    got = decode_body(envelope("v1", "Service", go_meta("svc") + spec + m(3, m(1))))
    assert got["spec"] == {
        "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080},
                  {"name": "web", "protocol": "TCP", "port": 81, "targetPort": "web",
                   "nodePort": 30081}],
        "selector": {"app": "x"}, "clusterIP": "10.0.0.1", "type": "NodePort",
        "clusterIPs": ["10.0.0.1"]}
    assert got["status"] == {"loadBalancer": {}}


def test_pod_containers_tolerations_security_volumes_probes():
    resources = m(8, smap(1, {"cpu": "500m", "memory": "128Mi"}, quantity),
                  smap(2, {"cpu": "250m"}, quantity))
    env = (m(7, s(1, "A"), s(2, "1"))
           + m(7, s(1, "POD"), s(2, ""), m(3, m(1, s(1, "v1"), s(2, "metadata.name")))))
    probe = m(10, m(1, m(2, s(1, "/healthz"), int_or_string(2, "http"), s(3, ""), s(4, "HTTP"))),
              v(2, 5), v(3, 1), v(4, 10), v(5, 1), v(6, 3))
    security = m(15, m(1, rs(1, ["NET_ADMIN"]), rs(2, ["ALL"])), v(2, 0), v(5, 1), v(6, 1))
    container = m(2, _container("web", "nginx:1.27", rs(3, ["nginx"]), rs(4, ["-g", "daemon off;"]),
                                m(6, s(1, "http"), v(2, 0), v(3, 80), s(4, "TCP"), s(5, "")),
                                env, resources, probe, security, v(16, 0), v(18, 1)))
    volumes = (m(1, s(1, "cfg"), m(2, m(19, m(1, s(1, "cm")), v(3, 0o644))))
               + m(1, s(1, "scratch"), m(2, m(2, s(1, "Memory"), quantity(2, "1Gi")))))
    tolerations = (m(22, s(1, "node.kubernetes.io/not-ready"), s(2, "Exists"), s(3, ""),
                     s(4, "NoExecute"), v(5, 300)))
    pod_security = m(14, v(2, 1000), v(3, 1), packed(4, [2000, 3000]), v(5, 2000))
    spec = m(2, volumes, container, s(3, "Always"), v(4, 30), s(6, "ClusterFirst"),
             smap(7, {"disk": "ssd"}), s(8, "default"), v(11, 0), v(12, 1), pod_security,
             tolerations, v(25, -5))
    got = decode_body(envelope("v1", "Pod", go_meta("web", "default") + spec))
    assert got["spec"] == {
        "volumes": [{"name": "cfg", "configMap": {"name": "cm", "defaultMode": 0o644}},
                    {"name": "scratch", "emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}}],
        "containers": [{
            "name": "web", "image": "nginx:1.27", "command": ["nginx"],
            "args": ["-g", "daemon off;"],
            "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"}],
            "env": [{"name": "A", "value": "1"},
                    {"name": "POD", "valueFrom": {"fieldRef": {"apiVersion": "v1",
                                                               "fieldPath": "metadata.name"}}}],
            "resources": {"limits": {"cpu": "500m", "memory": "128Mi"},
                          "requests": {"cpu": "250m"}},
            "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"},
                              "initialDelaySeconds": 5, "timeoutSeconds": 1, "periodSeconds": 10,
                              "successThreshold": 1, "failureThreshold": 3},
            "securityContext": {"capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]},
                                "privileged": False, "runAsNonRoot": True,
                                "readOnlyRootFilesystem": True},
            "tty": True,
        }],
        "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst", "nodeSelector": {"disk": "ssd"},
        "serviceAccountName": "default", "hostPID": True,
        "securityContext": {"runAsUser": 1000, "runAsNonRoot": True,
                            "supplementalGroups": [2000, 3000], "fsGroup": 2000},
        "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                         "effect": "NoExecute", "tolerationSeconds": 300}],
        "priority": -5,
    }


def test_core_event_time_and_micro_time():
    raw = (go_meta("e1", "default")
           + m(2, s(1, "Pod"), s(2, "default"), s(3, "web"), s(5, "v1"))
           + s(3, "Started") + s(4, "Started container") + m(5, s(1, "kubelet"), s(2, "node1"))
           + timestamp(6, T2024) + timestamp(7, T2024 + 3600, 999_999_999) + v(8, 2)
           + s(9, "Normal") + timestamp(10, T2024, 123_456_789) + s(14, "kubelet"))
    got = decode_body(envelope("v1", "Event", raw))
    assert got == {
        "apiVersion": "v1", "kind": "Event", "metadata": {"name": "e1", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web",
                           "apiVersion": "v1"},
        "reason": "Started", "message": "Started container",
        "source": {"component": "kubelet", "host": "node1"},
        "firstTimestamp": "2024-01-01T00:00:00Z",
        "lastTimestamp": "2024-01-01T01:00:00Z",  # metav1.Time drops the nanoseconds
        "count": 2, "type": "Normal",
        "eventTime": "2024-01-01T00:00:00.123456Z", "reportingComponent": "kubelet"}


def test_pre_epoch_and_zero_times():
    raw = m(1, s(1, "old"), timestamp(8, -1), m(9))
    got = decode_body(envelope("v1", "ConfigMap", raw))
    assert got["metadata"] == {"name": "old", "creationTimestamp": "1969-12-31T23:59:59Z"}
