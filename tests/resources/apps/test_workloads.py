"""apps/v1 Deployment, ReplicaSet, StatefulSet, DaemonSet: hooks called directly."""
from __future__ import annotations

import copy

import pytest

from resources.apps.daemonsets import TEMPLATE_GENERATION, DaemonSetStrategy
from resources.apps.deployments import DeploymentStrategy
from resources.apps.replicasets import ReplicaSetStrategy
from resources.apps.statefulsets import FORBIDDEN_UPDATE, StatefulSetStrategy
from apiserver.registry.context import RequestContext


def workload(kind_spec=None, labels=None, selector=None, name="web"):
    labels = {"app": "web"} if labels is None else labels
    spec = {"selector": {"matchLabels": {"app": "web"}} if selector is None else selector,
            "template": {"metadata": {"labels": labels},
                         "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]}}}
    spec.update(kind_spec or {})
    return {"metadata": {"name": name, "namespace": "default", "uid": "u-1",
                         "creationTimestamp": "2024-01-01T00:00:00Z"}, "spec": spec}


def prepared(strategy, obj):
    strategy.default(obj)
    strategy.prepare_for_create(RequestContext(), obj)
    return obj


def texts(errs):
    return [e.error_text() for e in errs]


ALL = [DeploymentStrategy, ReplicaSetStrategy, StatefulSetStrategy, DaemonSetStrategy]


@pytest.mark.parametrize("cls", ALL)
def test_valid_workload_passes(cls):
    s = cls()
    assert texts(s.validate(RequestContext(), prepared(s, workload()))) == []


@pytest.mark.parametrize("cls", ALL)
def test_selector_must_match_template_labels(cls):
    s = cls()
    out = texts(s.validate(RequestContext(), prepared(s, workload(labels={"app": "other"}))))
    assert ('spec.template.metadata.labels: Invalid value: map[string]string{"app":"other"}: '
            '`selector` does not match template `labels`') in out


@pytest.mark.parametrize("cls", [DeploymentStrategy, ReplicaSetStrategy, StatefulSetStrategy])
def test_replicas_must_not_be_negative(cls):
    s = cls()
    out = texts(s.validate(RequestContext(), prepared(s, workload({"replicas": -1}))))
    assert "spec.replicas: Invalid value: -1: must be greater than or equal to 0" in out


@pytest.mark.parametrize("cls,kind", [(DeploymentStrategy, "deployment"),
                                      (ReplicaSetStrategy, "deployment"),   # sic, upstream
                                      (StatefulSetStrategy, "statefulset"),
                                      (DaemonSetStrategy, "daemonset")])
def test_empty_selector_is_invalid(cls, kind):
    s = cls()
    out = texts(s.validate(RequestContext(), prepared(s, workload(selector={}))))
    assert (f"spec.selector: Invalid value: v1.LabelSelector{{MatchLabels:map[string]string(nil), "
            f"MatchExpressions:[]v1.LabelSelectorRequirement(nil)}}: empty selector is invalid "
            f"for {kind}") in out


def test_missing_selector_is_required_for_deployments():
    s = DeploymentStrategy()
    obj = prepared(s, workload())
    del obj["spec"]["selector"]
    out = texts(s.validate(RequestContext(), obj))
    assert "spec.selector: Required value" in out


@pytest.mark.parametrize("cls", ALL)
def test_selector_is_immutable(cls):
    s = cls()
    old = prepared(s, workload())
    new = copy.deepcopy(old)
    new["spec"]["selector"] = {"matchLabels": {"app": "web", "tier": "x"}}
    new["spec"]["template"]["metadata"]["labels"]["tier"] = "x"
    out = texts(s.validate_update(RequestContext(), new, old))
    if cls is StatefulSetStrategy:
        assert out == [f"spec: Forbidden: {FORBIDDEN_UPDATE}"]
    else:
        assert out == ['spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string'
                       '{"app":"web", "tier":"x"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}'
                       ': field is immutable']


@pytest.mark.parametrize("cls", [DeploymentStrategy, ReplicaSetStrategy, DaemonSetStrategy, StatefulSetStrategy])
def test_template_restart_policy_must_be_always(cls):
    s = cls()
    obj = prepared(s, workload())
    obj["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
    assert ('spec.template.spec.restartPolicy: Unsupported value: "OnFailure": supported values: '
            '"Always"') in texts(s.validate(RequestContext(), obj))


def test_deployment_defaults():
    s = DeploymentStrategy()
    obj = prepared(s, workload())
    spec = obj["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "RollingUpdate",
                                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    assert spec["revisionHistoryLimit"] == 10 and spec["progressDeadlineSeconds"] == 600
    assert spec["template"]["spec"]["dnsPolicy"] == "ClusterFirst"
    assert obj["status"] == {}
    recreate = prepared(s, workload({"strategy": {"type": "Recreate"}}))
    assert recreate["spec"]["strategy"] == {"type": "Recreate"}
    assert texts(s.validate(RequestContext(), recreate)) == []


def test_deployment_strategy_validation():
    s = DeploymentStrategy()
    obj = prepared(s, workload({"strategy": {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}}))
    assert texts(s.validate(RequestContext(), obj)) == ["spec.strategy.rollingUpdate: Forbidden: may not be specified "
                                      "when strategy `type` is 'Recreate'"]
    obj = prepared(s, workload({"progressDeadlineSeconds": 5, "minReadySeconds": 10}))
    assert texts(s.validate(RequestContext(), obj)) == ["spec.progressDeadlineSeconds: Invalid value: 5: must be "
                                      "greater than minReadySeconds"]


def test_deployment_table_row():
    s = DeploymentStrategy()
    obj = prepared(s, workload({"replicas": 3}))
    obj["status"] = {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 1}
    row = s.table_row(obj)
    assert row[:4] == ["web", "2/3", 3, 1]
    assert row[5:] == ["nginx", "nginx:1.25", "app=web"]
    assert [c.name for c in s.columns] == ["Name", "Ready", "Up-to-date", "Available", "Age",
                                           "Containers", "Images", "Selector"]
    assert [c.priority for c in s.columns] == [0, 0, 0, 0, 0, 1, 1, 1]


def test_replicaset_table_row():
    s = ReplicaSetStrategy()
    obj = prepared(s, workload({"replicas": 3}))
    obj["status"] = {"replicas": 2, "readyReplicas": 1}
    row = s.table_row(obj)
    assert row[:4] == ["web", 3, 2, 1] and row[5:] == ["nginx", "nginx:1.25", "app=web"]
    assert [c.name for c in s.columns][:5] == ["Name", "Desired", "Current", "Ready", "Age"]


def test_statefulset_defaults_and_update_rules():
    s = StatefulSetStrategy()
    obj = prepared(s, workload({"volumeClaimTemplates": [{"metadata": {"name": "data"},
                                                          "spec": {"accessModes": ["ReadWriteOnce"]}}]}))
    spec = obj["spec"]
    assert spec["podManagementPolicy"] == "OrderedReady"
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    assert spec["revisionHistoryLimit"] == 10 and spec["replicas"] == 1
    assert "serviceName" not in spec            # may stay empty
    claim = spec["volumeClaimTemplates"][0]
    assert claim["spec"]["volumeMode"] == "Filesystem" and claim["status"] == {"phase": "Pending"}
    assert texts(s.validate(RequestContext(), obj)) == []
    # replicas, template, updateStrategy may change; serviceName may not
    new = copy.deepcopy(obj)
    new["spec"]["replicas"] = 5
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    assert texts(s.validate_update(RequestContext(), new, obj)) == []
    new["spec"]["serviceName"] = "db"
    assert texts(s.validate_update(RequestContext(), new, obj)) == [f"spec: Forbidden: {FORBIDDEN_UPDATE}"]
    assert s.name_rule == "label"
    assert s.table_row(obj)[1] == "0/1"


def test_statefulset_explicit_rolling_update_gets_no_partition():
    s = StatefulSetStrategy()
    obj = prepared(s, workload({"updateStrategy": {"type": "RollingUpdate"}}))
    assert obj["spec"]["updateStrategy"] == {"type": "RollingUpdate"}


def test_daemonset_defaults_template_generation_and_row():
    s = DaemonSetStrategy()
    obj = workload()
    obj["spec"]["template"]["spec"]["nodeSelector"] = {"kubernetes.io/os": "linux"}
    prepared(s, obj)
    assert obj["spec"]["updateStrategy"] == {"type": "RollingUpdate",
                                             "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    assert obj["metadata"]["annotations"][TEMPLATE_GENERATION] == "1"
    new = copy.deepcopy(obj)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    s.prepare_for_update(RequestContext(), new, obj)
    assert new["metadata"]["annotations"][TEMPLATE_GENERATION] == "2"
    same = copy.deepcopy(obj)
    s.prepare_for_update(RequestContext(), same, obj)
    assert same["metadata"]["annotations"][TEMPLATE_GENERATION] == "1"
    obj["status"] = {"desiredNumberScheduled": 3, "currentNumberScheduled": 2, "numberReady": 1,
                     "updatedNumberScheduled": 2, "numberAvailable": 1}
    assert s.table_row(obj)[:7] == ["web", 3, 2, 1, 2, 1, "kubernetes.io/os=linux"]
    assert s.table_row(obj)[8:] == ["nginx", "nginx:1.25", "app=web"]


def test_declarations():
    assert DeploymentStrategy.short_names == ("deploy",) and DeploymentStrategy.categories == ("all",)
    assert ReplicaSetStrategy.short_names == ("rs",)
    assert StatefulSetStrategy.short_names == ("sts",)
    assert DaemonSetStrategy.short_names == ("ds",)
    for cls in ALL:
        assert cls.group == "apps" and cls.tracks_generation
        assert cls.schema_name == f"io.k8s.api.apps.v1.{cls.kind}"
    assert DaemonSetStrategy.subresource_names() == ("status",)
    for cls in (DeploymentStrategy, ReplicaSetStrategy, StatefulSetStrategy):
        assert cls.subresource_names() == ("status", "scale")
        assert cls.scale_spec().label_selector == "spec.selector"
