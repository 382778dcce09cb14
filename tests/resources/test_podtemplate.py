"""resources.podtemplate: PodSpec defaults, generic template validation, Go renderings."""
from __future__ import annotations

import pytest

from resources import podtemplate as pt


def texts(errs):
    return [e.error_text() for e in errs]


def test_pod_spec_defaults():
    spec = {"containers": [{"name": "a", "image": "nginx"},
                           {"name": "b", "image": "nginx:1.25",
                            "ports": [{"containerPort": 80}],
                            "readinessProbe": {"httpGet": {"port": 80}}}],
            "volumes": [{"name": "scratch"}, {"name": "cfg", "configMap": {"name": "c"}}]}
    pt.default_pod_spec(spec)
    assert spec["restartPolicy"] == "Always"
    assert spec["dnsPolicy"] == "ClusterFirst"
    assert spec["schedulerName"] == "default-scheduler"
    assert spec["terminationGracePeriodSeconds"] == 30
    assert spec["securityContext"] == {}
    a, b = spec["containers"]
    assert a["imagePullPolicy"] == "Always"          # no tag means :latest
    assert b["imagePullPolicy"] == "IfNotPresent"
    assert a["terminationMessagePath"] == "/dev/termination-log"
    assert a["terminationMessagePolicy"] == "File"
    assert b["ports"][0]["protocol"] == "TCP"
    assert b["readinessProbe"] == {"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
                                   "timeoutSeconds": 1, "periodSeconds": 10,
                                   "successThreshold": 1, "failureThreshold": 3}
    assert spec["volumes"][0] == {"name": "scratch", "emptyDir": {}}
    assert spec["volumes"][1]["configMap"]["defaultMode"] == 420


@pytest.mark.parametrize("image,policy", [
    ("nginx", "Always"), ("nginx:latest", "Always"), ("nginx:1.2", "IfNotPresent"),
    ("localhost:5000/nginx", "Always"), ("localhost:5000/nginx:v1", "IfNotPresent"),
    ("nginx@sha256:" + "a" * 64, "IfNotPresent"),
])
def test_image_pull_policy_from_tag(image, policy):
    spec = {"containers": [{"name": "c", "image": image}]}
    assert pt.default_pod_spec(spec)["containers"][0]["imagePullPolicy"] == policy


def test_defaults_keep_explicit_values_and_are_idempotent():
    spec = {"restartPolicy": "Never", "terminationGracePeriodSeconds": 5,
            "containers": [{"name": "c", "image": "x", "imagePullPolicy": "Never"}]}
    once = pt.default_pod_spec(spec)
    import copy
    twice = pt.default_pod_spec(copy.deepcopy(once))
    assert once == twice
    assert once["restartPolicy"] == "Never" and once["terminationGracePeriodSeconds"] == 5
    assert once["containers"][0]["imagePullPolicy"] == "Never"


def test_template_validation_messages():
    template = {"metadata": {"labels": {"bad key!": "x"}},
                "spec": {"restartPolicy": "Sometimes", "dnsPolicy": "ClusterFirst",
                         "containers": [{"name": "a", "imagePullPolicy": "Always",
                                         "terminationMessagePolicy": "File",
                                         "ports": [{"containerPort": 70000, "protocol": "TCP"}],
                                         "volumeMounts": [{"name": "nope", "mountPath": "/x"}]},
                                        {"name": "a", "image": "x", "imagePullPolicy": "Always",
                                         "terminationMessagePolicy": "File"}]}}
    out = texts(pt.validate_pod_template(template))
    # upstream ValidatePodTemplateSpec reports the template's labels at <path>.labels (the
    # selector-mismatch check is the one at .metadata.labels)
    assert any(t.startswith('spec.template.labels: Invalid value: "bad key!"') for t in out)
    assert "spec.template.spec.containers[0].image: Required value" in out
    assert ('spec.template.spec.containers[0].ports[0].containerPort: Invalid value: 70000: '
            'must be between 1 and 65535, inclusive') in out
    assert 'spec.template.spec.containers[0].volumeMounts[0].name: Not found: "nope"' in out
    assert 'spec.template.spec.containers[1].name: Duplicate value: "a"' in out
    assert ('spec.template.spec.restartPolicy: Unsupported value: "Sometimes": supported values: '
            '"Always", "OnFailure", "Never"') in out


def test_template_requires_containers():
    assert texts(pt.validate_pod_template({"spec": pt.default_pod_spec({})})) == [
        "spec.template.spec.containers: Required value"]


def test_template_uses_the_pod_library():
    """One pod-spec library: the template helpers are the core ones, Pod rules included."""
    from resources.core import pod_defaults
    assert pt.default_pod_spec is pod_defaults.default_pod_spec
    spec = pt.default_pod_spec({"containers": [{"name": "a", "image": "x",
                                                "resources": {"requests": {"cpu": "2"},
                                                              "limits": {"cpu": "1"}}}],
                                "tolerations": [{"key": "k", "operator": "Exists", "value": "v"}],
                                "serviceAccountName": "Bad_SA"})
    out = texts(pt.validate_pod_template({"spec": spec}))
    assert out[0] == ('spec.template.spec.containers[0].resources.requests: Invalid value: "2": '
                      "must be less than or equal to cpu limit of 1")
    assert out[1].startswith('spec.template.spec.serviceAccountName: Invalid value: "Bad_SA"')
    assert out[2] == ('spec.template.spec.tolerations[0].operator: Invalid value: "v": '
                      "value must be empty when `operator` is 'Exists'")


def test_template_spec_gets_no_pod_only_defaults():
    """SetDefaults_Pod (requests from limits, enableServiceLinks, host ports) is Pod-only."""
    spec = pt.default_pod_spec({"hostNetwork": True, "containers": [
        {"name": "a", "image": "x", "ports": [{"containerPort": 80}],
         "resources": {"limits": {"cpu": "1"}}}]})
    assert "enableServiceLinks" not in spec
    assert spec["containers"][0]["resources"] == {"limits": {"cpu": "1"}}
    assert "hostPort" not in spec["containers"][0]["ports"][0]
    assert texts(pt.validate_pod_template({"spec": spec})) == []


def test_template_rejects_ephemeral_containers():
    spec = pt.default_pod_spec({"containers": [{"name": "a", "image": "x"}],
                                "ephemeralContainers": [{"name": "dbg", "image": "busybox"}]})
    assert texts(pt.validate_pod_template({"spec": spec})) == [
        "spec.template.spec.ephemeralContainers: Forbidden: ephemeral containers not allowed "
        "in pod template"]


def test_zero_values_are_defaulted_as_go_does():
    spec = pt.default_pod_spec({"restartPolicy": "", "containers": [
        {"name": "a", "image": "x", "ports": [{"containerPort": 80, "protocol": ""}],
         "livenessProbe": {"httpGet": {"port": 80, "path": ""}, "timeoutSeconds": 0}}]})
    c = spec["containers"][0]
    assert spec["restartPolicy"] == "Always" and c["ports"][0]["protocol"] == "TCP"
    assert c["livenessProbe"]["httpGet"]["path"] == "/" and c["livenessProbe"]["timeoutSeconds"] == 1


def test_go_renderings():
    assert str(pt.go_map({"b": "2", "a": "1"})) == 'map[string]string{"a":"1", "b":"2"}'
    assert str(pt.go_map(None)) == "map[string]string(nil)"
    assert str(pt.go_label_selector({"matchLabels": {"app": "web"}})) == (
        'v1.LabelSelector{MatchLabels:map[string]string{"app":"web"}, '
        'MatchExpressions:[]v1.LabelSelectorRequirement(nil)}')
    assert str(pt.go_label_selector({"matchExpressions": [
        {"key": "k", "operator": "In", "values": ["a"]}]})) == (
        'v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:'
        '[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:"k", Operator:"In", '
        'Values:[]string{"a"}}}}')


def test_printing_helpers():
    template = {"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}}
    assert pt.container_cells(template) == ("a,b", "x,y")
    assert pt.format_selector({}) == "<none>"
    assert pt.format_selector({"matchLabels": {"b": "2", "a": "1"}}) == "a=1,b=2"
    assert pt.format_labels(None) == "<none>"
    assert pt.format_labels({"z": "1", "a": "2"}) == "a=2,z=1"


def test_rolling_update_checks():
    out = texts(pt.validate_rolling_update({"maxUnavailable": 0, "maxSurge": "0%"}, "p"))
    assert out == ['p.maxUnavailable: Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:""}: '
                   "may not be 0 when `maxSurge` is 0"]
    out = texts(pt.validate_rolling_update({"maxUnavailable": "120%", "maxSurge": "abc"}, "p"))
    assert out[0].startswith('p.maxSurge: Invalid value: intstr.IntOrString{Type:1, IntVal:0, '
                             'StrVal:"abc"}: a valid percent string')
    assert out[1].endswith("must not be greater than 100%")
