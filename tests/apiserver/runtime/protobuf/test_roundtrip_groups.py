"""Round trips for the named API groups (apps, batch, rbac, authentication, authorization,
policy, coordination, events, meta) through hand-encoded protobuf.

Field numbers are copied by hand from the upstream ``generated.proto`` files of k8s.io/api
v0.32.5; see ``test_roundtrip_core`` for the conventions.
"""
import pytest

from apiserver.runtime.errors import BadRequest
from apiserver.runtime.protobuf import decode_body
from tests.apiserver.runtime.protobuf.pbenc import (MAGIC, envelope, int_or_string, ld, m,
                                                    quantity, rs, s, smap, timestamp, v)
from tests.apiserver.runtime.protobuf.test_roundtrip_core import T2024, go_meta


def _template(labels, name, image):
    resources = m(8, smap(1, {"memory": "64Mi"}, quantity), smap(2, {"cpu": "0.1"}, quantity))
    container = m(2, s(1, name), s(2, image), m(7, s(1, "MODE"), s(2, "prod")), resources)
    return m(1, smap(11, labels)), m(2, container, s(3, "Never"))


def test_deployment():
    meta, spec = _template({"app": "web"}, "web", "nginx")
    selector = m(2, smap(1, {"app": "web"}),
                 m(2, s(1, "tier"), s(2, "In"), rs(3, ["fe", "be"])))
    strategy = m(4, s(1, "RollingUpdate"), m(2, int_or_string(1, 0), int_or_string(2, "25%")))
    raw = (go_meta("web", "default") + m(2, v(1, 3), selector, m(3, meta, spec), strategy,
                                          v(5, 0), v(6, 10), v(7, 0))
           + m(3, v(1, 0)))
    got = decode_body(envelope("apps/v1", "Deployment", raw))
    assert got == {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"},
                         "matchExpressions": [{"key": "tier", "operator": "In",
                                               "values": ["fe", "be"]}]},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{
                             "name": "web", "image": "nginx",
                             "env": [{"name": "MODE", "value": "prod"}],
                             "resources": {"limits": {"memory": "64Mi"},
                                           "requests": {"cpu": "0.1"}}}],
                             "restartPolicy": "Never"}},
            "strategy": {"type": "RollingUpdate",
                         "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}},
            "revisionHistoryLimit": 10,
        },
        "status": {},
    }


def test_job_and_cronjob():
    meta, spec = _template({"job": "j"}, "j", "busybox")
    job_fields = v(1, 2) + v(2, 4) + v(7, 6) + m(6, meta, spec) + s(9, "Indexed") + v(10, 0)
    got = decode_body(envelope("batch/v1", "Job", go_meta("j") + m(2, job_fields)))
    assert got["spec"] == {"parallelism": 2, "completions": 4, "backoffLimit": 6,
                           "template": {"metadata": {"labels": {"job": "j"}},
                                        "spec": got["spec"]["template"]["spec"]},
                           "completionMode": "Indexed", "suspend": False}
    assert got["spec"]["template"]["spec"]["restartPolicy"] == "Never"

    cron_spec = m(2, s(1, "*/5 * * * *"), s(8, "Etc/UTC"), s(3, "Forbid"), v(4, 1),
                  m(5, m(1, s(1, "")), m(2, job_fields)), v(6, 3))
    got = decode_body(envelope("batch/v1", "CronJob", go_meta("cj") + cron_spec))
    assert got["spec"]["schedule"] == "*/5 * * * *"
    assert got["spec"]["timeZone"] == "Etc/UTC"
    assert got["spec"]["suspend"] is True
    assert got["spec"]["successfulJobsHistoryLimit"] == 3
    assert got["spec"]["jobTemplate"]["metadata"] == {}
    assert got["spec"]["jobTemplate"]["spec"]["completions"] == 4


def test_rbac_role_rolebinding_clusterrole():
    rule = m(2, rs(1, ["get", "list"]), rs(2, [""]), rs(3, ["pods", "pods/log"]), rs(4, ["a"]))
    got = decode_body(envelope("rbac.authorization.k8s.io/v1", "Role", go_meta("r", "ns") + rule))
    assert got == {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                   "metadata": {"name": "r", "namespace": "ns"},
                   "rules": [{"verbs": ["get", "list"], "apiGroups": [""],
                              "resources": ["pods", "pods/log"], "resourceNames": ["a"]}]}

    subjects = (m(2, s(1, "User"), s(2, "rbac.authorization.k8s.io"), s(3, "alice"), s(4, ""))
                + m(2, s(1, "ServiceAccount"), s(2, ""), s(3, "sa"), s(4, "ns")))
    raw = go_meta("rb", "ns") + subjects + m(3, s(1, "rbac.authorization.k8s.io"), s(2, "Role"),
                                              s(3, "r"))
    got = decode_body(envelope("rbac.authorization.k8s.io/v1", "RoleBinding", raw))
    assert got["subjects"] == [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io",
                                "name": "alice"},
                               {"kind": "ServiceAccount", "name": "sa", "namespace": "ns"}]
    assert got["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                              "name": "r"}

    raw = (go_meta("cr") + m(2, rs(1, ["get"]), rs(5, ["/logs/*"]))
           + m(3, m(1, smap(1, {"rbac.example.com/aggregate": "true"}))))
    got = decode_body(envelope("rbac.authorization.k8s.io/v1", "ClusterRole", raw))
    assert got["rules"] == [{"verbs": ["get"], "nonResourceURLs": ["/logs/*"]}]
    assert got["aggregationRule"] == {
        "clusterRoleSelectors": [{"matchLabels": {"rbac.example.com/aggregate": "true"}}]}


def test_token_request():
    spec = m(2, rs(1, ["api", "vault"]), m(3, s(1, "Pod"), s(2, "v1"), s(3, "x"), s(4, "u-1")),
             v(4, 600))
    raw = go_meta() + spec + m(3, s(1, ""), m(2))
    got = decode_body(envelope("authentication.k8s.io/v1", "TokenRequest", raw))
    assert got == {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                   "metadata": {},
                   "spec": {"audiences": ["api", "vault"], "expirationSeconds": 600,
                            "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "x",
                                               "uid": "u-1"}},
                   "status": {"token": ""}}


def test_self_subject_access_review_resource_and_non_resource():
    attrs = m(1, s(1, "ns1"), s(2, "get"), s(3, ""), s(4, ""), s(5, "pods"), s(6, "log"),
              s(7, ""))
    raw = go_meta() + m(2, attrs) + m(3, v(1, 0), v(4, 0), s(2, ""), s(3, ""))
    got = decode_body(envelope("authorization.k8s.io/v1", "SelfSubjectAccessReview", raw))
    assert got == {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                   "metadata": {},
                   "spec": {"resourceAttributes": {"namespace": "ns1", "verb": "get",
                                                   "resource": "pods", "subresource": "log"}},
                   "status": {"allowed": False}}
    raw = go_meta() + m(2, m(2, s(1, "/logs"), s(2, "get")))
    got = decode_body(envelope("authorization.k8s.io/v1", "SelfSubjectAccessReview", raw))
    assert got["spec"] == {"nonResourceAttributes": {"path": "/logs", "verb": "get"}}


def test_self_subject_rules_review_and_subject_access_review_extra():
    got = decode_body(envelope("authorization.k8s.io/v1", "SelfSubjectRulesReview",
                               go_meta() + m(2, s(1, "ns1"))))
    assert got["spec"] == {"namespace": "ns1"}

    extra = smap(5, {"scopes": ["a", "b"], "none": []}, lambda n, items: m(n, rs(1, items)))
    spec = m(2, m(1, s(2, "list"), s(5, "secrets")), s(3, "bob"), rs(4, ["dev"]), extra, s(6, "u"))
    got = decode_body(envelope("authorization.k8s.io/v1", "SubjectAccessReview", go_meta() + spec))
    assert got["spec"] == {"resourceAttributes": {"verb": "list", "resource": "secrets"},
                           "user": "bob", "groups": ["dev"],
                           "extra": {"scopes": ["a", "b"], "none": []}, "uid": "u"}
    got = decode_body(envelope("authorization.k8s.io/v1", "LocalSubjectAccessReview",
                               go_meta("", "ns") + spec))
    assert got["kind"] == "LocalSubjectAccessReview" and got["metadata"] == {"namespace": "ns"}


def test_self_subject_review():
    got = decode_body(envelope("authentication.k8s.io/v1", "SelfSubjectReview",
                               go_meta() + m(2, m(1, s(1, ""), s(2, "")))))
    assert got == {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview",
                   "metadata": {}, "status": {"userInfo": {}}}


def test_eviction_with_delete_options():
    opts = m(2, v(1, 0), m(2, s(1, "uid-1"), s(2, "7")), s(4, "Foreground"), rs(5, ["All"]))
    got = decode_body(envelope("policy/v1", "Eviction", go_meta("web", "default") + opts))
    assert got == {"apiVersion": "policy/v1", "kind": "Eviction",
                   "metadata": {"name": "web", "namespace": "default"},
                   "deleteOptions": {"gracePeriodSeconds": 0,
                                     "preconditions": {"uid": "uid-1", "resourceVersion": "7"},
                                     "propagationPolicy": "Foreground", "dryRun": ["All"]}}


def test_delete_options_with_and_without_type_meta():
    raw = v(1, 30) + m(2, s(1, "u")) + v(3, 0) + s(4, "Background")
    got = decode_body(envelope("meta.k8s.io/v1", "DeleteOptions", raw))
    assert got == {"apiVersion": "meta.k8s.io/v1", "kind": "DeleteOptions",
                   "gracePeriodSeconds": 30, "preconditions": {"uid": "u"},
                   "orphanDependents": False, "propagationPolicy": "Background"}
    # Typed clients label options with the resource's group-version.
    assert decode_body(envelope("apps/v1", "DeleteOptions", raw))["propagationPolicy"] == "Background"
    # An empty TypeMeta takes the kind the endpoint expects (copyKindDefaults).
    bare = MAGIC + ld(2, raw)
    got = decode_body(bare, expected=("", "v1", "DeleteOptions"))
    assert got["apiVersion"] == "v1" and got["kind"] == "DeleteOptions"
    with pytest.raises(BadRequest, match="Kind"):
        decode_body(bare)


def test_lease_micro_time():
    spec = m(2, s(1, "node-1"), v(2, 40), timestamp(3, T2024, 500_000), timestamp(4, T2024 + 1, 999),
             v(5, 2))
    got = decode_body(envelope("coordination.k8s.io/v1", "Lease", go_meta("l", "kube-system") + spec))
    assert got["spec"] == {"holderIdentity": "node-1", "leaseDurationSeconds": 40,
                           "acquireTime": "2024-01-01T00:00:00.000500Z",
                           "renewTime": "2024-01-01T00:00:01.000000Z", "leaseTransitions": 2}


def test_events_v1_event():
    raw = (go_meta("e", "default") + timestamp(2, T2024, 42_000)
           + m(3, v(1, 5), timestamp(2, T2024 + 10, 7_000_000)) + s(4, "kubelet")
           + s(5, "node-1") + s(6, "Pulling") + s(7, "Pulling") + m(8, s(1, "Pod"), s(3, "web"))
           + s(10, "Pulling image") + s(11, "Normal") + m(12, s(1, "")) + timestamp(13, T2024)
           + m(14) + v(15, 0))
    got = decode_body(envelope("events.k8s.io/v1", "Event", raw))
    assert got == {"apiVersion": "events.k8s.io/v1", "kind": "Event",
                   "metadata": {"name": "e", "namespace": "default"},
                   "eventTime": "2024-01-01T00:00:00.000042Z",
                   "series": {"count": 5, "lastObservedTime": "2024-01-01T00:00:10.007000Z"},
                   "reportingController": "kubelet", "reportingInstance": "node-1",
                   "action": "Pulling", "reason": "Pulling",
                   "regarding": {"kind": "Pod", "name": "web"}, "note": "Pulling image",
                   "type": "Normal", "deprecatedSource": {},
                   "deprecatedFirstTimestamp": "2024-01-01T00:00:00Z"}


def test_raw_extension_json_and_embedded_protobuf():
    got = decode_body(envelope("apps/v1", "ControllerRevision",
                               go_meta("rev") + m(2, ld(1, b'{"spec":{"x":[1,2]}}')) + v(3, 4)))
    assert got["data"] == {"spec": {"x": [1, 2]}} and got["revision"] == 4
    inner = envelope("v1", "ConfigMap", go_meta("cm") + smap(2, {"a": "b"}))
    got = decode_body(envelope("meta.k8s.io/v1", "WatchEvent", s(1, "ADDED") + m(2, ld(1, inner))))
    assert got["object"] == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"},
                             "data": {"a": "b"}}
