"""Contract: one pod-spec library.  A pod spec a Pod may not have, no workload template may have;
a pod spec a Pod may have, every workload template may have; and a template's spec is
defaulted as a Pod's is (minus the Pod-only ``SetDefaults_Pod`` part).

Everything goes through the real Store (defaults, validation, 422 causes), so the test does not
depend on the Strategy hook signatures.  Upstream: kubernetes/kubernetes
pkg/apis/core/validation/validation.go (``ValidatePodTemplateSpec`` calls ``ValidatePodSpec``),
pkg/apis/apps/validation/validation.go, pkg/apis/batch/validation/validation.go,
pkg/apis/core/v1/defaults.go (``SetDefaults_Pod`` vs ``SetDefaults_PodSpec``).

StatefulSet is the one kind upstream does not hold to the contract: ``ValidateStatefulSetSpec``
validates the template's labels, annotations and restart policy but (a TODO in
``ValidatePodTemplateSpecForStatefulSet``) not its pod spec, because volume mounts may name
``volumeClaimTemplates``.  Its Pods are refused when the controller creates them.
:func:`test_statefulset_leaves_the_pod_spec_to_its_pods` pins that.
"""
from __future__ import annotations

import copy

import orjson
import pytest

from apiserver.runtime import errors
from tests.apiserver.storage.support import ensure_revision_row

LABELS = {"app": "contract"}


def base_spec(restart: str) -> dict:
    """A pod spec valid as a Pod, using most of what PodSpec validation looks at."""
    return {
        "restartPolicy": restart,
        "initContainers": [{"name": "init", "image": "busybox:1.36", "command": ["true"]}],
        "containers": [{
            "name": "app", "image": "nginx:1.27",
            "ports": [{"name": "http", "containerPort": 80}, {"containerPort": 9090, "protocol": "UDP"}],
            "env": [{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
            "resources": {"requests": {"cpu": "100m"}, "limits": {"cpu": "1", "memory": "128Mi"}},
            "volumeMounts": [{"name": "data", "mountPath": "/data"},
                             {"name": "config", "mountPath": "/etc/app"}],
            "livenessProbe": {"httpGet": {"port": "http"}},
            "readinessProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 5},
            "lifecycle": {"preStop": {"exec": {"command": ["sleep", "1"]}}},
        }],
        "volumes": [{"name": "data"}, {"name": "config", "configMap": {"name": "app"}}],
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "web",
                         "effect": "NoSchedule"},
                        {"operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30}],
        "nodeSelector": {"kubernetes.io/os": "linux"},
    }


def _container(spec: dict) -> dict:
    return spec["containers"][0]


# (id, mutation of base_spec): each makes the spec invalid as a Pod, by a different rule
INVALID = [
    ("bad-container-name", lambda s: _container(s).update(name="Web_1")),
    ("duplicate-container-names", lambda s: s["containers"].append(
        {"name": "app", "image": "nginx:1.27"})),
    ("init-name-clashes-with-container", lambda s: s["initContainers"][0].update(name="app")),
    ("missing-image", lambda s: _container(s).pop("image")),
    ("port-out-of-range", lambda s: _container(s)["ports"][0].update(containerPort=70000)),
    ("bad-port-name", lambda s: _container(s)["ports"][0].update(name="HTTP_port")),
    ("bad-protocol", lambda s: _container(s)["ports"][1].update(protocol="ICMP")),
    ("bad-restart-policy", lambda s: s.update(restartPolicy="Sometimes")),
    ("mount-of-missing-volume", lambda s: _container(s)["volumeMounts"].append(
        {"name": "nope", "mountPath": "/nope"})),
    ("duplicate-mount-path", lambda s: _container(s)["volumeMounts"][1].update(mountPath="/data")),
    ("duplicate-volume-names", lambda s: s["volumes"].append({"name": "data"})),
    ("bad-volume-name", lambda s: s["volumes"].append({"name": "Bad.Volume"})),
    ("requests-above-limits", lambda s: _container(s)["resources"].update(
        requests={"cpu": "2"})),
    ("env-without-name", lambda s: _container(s)["env"].append({"value": "x"})),
    ("bad-pull-policy", lambda s: _container(s).update(imagePullPolicy="Sometimes")),
    ("liveness-success-threshold", lambda s: _container(s)["livenessProbe"].update(
        successThreshold=2)),
    ("probe-without-handler", lambda s: _container(s).update(startupProbe={"periodSeconds": 3})),
    ("init-container-with-probe", lambda s: s["initContainers"][0].update(
        readinessProbe={"exec": {"command": ["true"]}})),
    ("toleration-value-with-exists", lambda s: s["tolerations"].append(
        {"key": "k", "operator": "Exists", "value": "v"})),
    ("toleration-bad-effect", lambda s: s["tolerations"][0].update(effect="Sometimes")),
    ("toleration-seconds-without-noexecute", lambda s: s["tolerations"][0].update(
        tolerationSeconds=5)),
    ("bad-node-selector", lambda s: s["nodeSelector"].update({"bad key!": "x"})),
    ("bad-hostname", lambda s: s.update(hostname="Not_A_Label")),
    ("bad-service-account-name", lambda s: s.update(serviceAccountName="Bad_SA")),
    ("dns-none-without-config", lambda s: s.update(dnsPolicy="None")),
    ("host-network-port-mismatch", lambda s: (s.update(hostNetwork=True),
                                              _container(s)["ports"][0].update(hostPort=8080))),
]


def apps_object(kind: str, spec: dict, **extra) -> dict:
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": "contract"},
            "spec": {"selector": {"matchLabels": dict(LABELS)},
                     "template": {"metadata": {"labels": dict(LABELS)}, "spec": spec}, **extra}}


def job(spec: dict) -> dict:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "contract"},
            "spec": {"template": {"metadata": {"labels": dict(LABELS)}, "spec": spec}}}


def cronjob(spec: dict) -> dict:
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "contract"},
            "spec": {"schedule": "*/5 * * * *",
                     "jobTemplate": {"spec": {"template": {"metadata": {"labels": dict(LABELS)},
                                                           "spec": spec}}}}}


# kind -> (group, plural, build(spec), path of the template's pod spec, restart policy it needs)
KINDS = {
    "Deployment": ("apps", "deployments", lambda s: apps_object("Deployment", s),
                   "spec.template.spec", "Always"),
    "ReplicaSet": ("apps", "replicasets", lambda s: apps_object("ReplicaSet", s),
                   "spec.template.spec", "Always"),
    "StatefulSet": ("apps", "statefulsets",
                    lambda s: apps_object("StatefulSet", s, serviceName="contract"),
                    "spec.template.spec", "Always"),
    "DaemonSet": ("apps", "daemonsets", lambda s: apps_object("DaemonSet", s),
                  "spec.template.spec", "Always"),
    "Job": ("batch", "jobs", job, "spec.template.spec", "Never"),
    "CronJob": ("batch", "cronjobs", cronjob, "spec.jobTemplate.spec.template.spec", "OnFailure"),
}
VALIDATING = [k for k in KINDS if k != "StatefulSet"]
# what only a Pod gets: the SetDefaults_Pod part, and what PodStrategy.prepare_for_create and
# admission add to Pods on a real cluster too (priority, service account, the
# DefaultTolerationSeconds tolerations)
POD_ONLY_SPEC_FIELDS = ("enableServiceLinks", "priority", "preemptionPolicy",
                        "serviceAccountName", "serviceAccount", "tolerations")


@pytest.fixture
def create(stores, ctx):
    """``create(group, plural, obj)``: the stored object, or the ``Invalid`` raised."""
    ensure_revision_row()

    def run(group: str, plural: str, obj: dict):
        store = stores.store(group, "v1", plural)
        try:
            return orjson.loads(store.create("default", copy.deepcopy(obj), ctx))
        except errors.Invalid as exc:
            return exc
    return run


def pod(spec: dict) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "contract"}, "spec": spec}


def causes(result) -> set:
    assert isinstance(result, errors.Invalid), f"expected 422 Invalid, got {result!r}"
    assert result.code == 422
    return {(c.reason, c.field, c.message) for c in result.causes}


def rerooted(pod_causes: set, template_path: str) -> set:
    """A Pod's spec errors as they read under a template's spec path."""
    assert all(field.startswith("spec.") for _, field, _ in pod_causes), pod_causes
    return {(reason, template_path + field[len("spec"):], message)
            for reason, field, message in pod_causes}


# ---- a spec a Pod may not have, no validating workload may have ------------------------------

@pytest.mark.parametrize("kind", VALIDATING)
@pytest.mark.parametrize("case,mutate", INVALID, ids=[c for c, _ in INVALID])
def test_invalid_as_pod_is_invalid_in_every_workload(create, kind, case, mutate):
    group, plural, build, path, restart = KINDS[kind]
    spec = base_spec(restart)
    mutate(spec)
    pod_errors = causes(create("", "pods", pod(spec)))
    assert pod_errors, case
    got = causes(create(group, plural, build(spec)))
    # the same errors, same reasons and messages, at the template's spec path (a workload may
    # add its own, e.g. restartPolicy must be Always for a Deployment)
    missing = rerooted(pod_errors, path) - got
    assert not missing, f"{kind} accepted what a Pod may not have ({case}): {sorted(missing)}"
    assert all(field.startswith(path + ".") for _, field, _ in rerooted(pod_errors, path))


@pytest.mark.parametrize("kind", VALIDATING)
def test_error_paths_are_under_the_template_spec(create, kind):
    group, plural, build, path, restart = KINDS[kind]
    spec = base_spec(restart)
    _container(spec).update(name="Web_1")
    _container(spec).pop("image")
    got = causes(create(group, plural, build(spec)))
    fields = {field for _, field, _ in got}
    assert f"{path}.containers[0].name" in fields
    assert f"{path}.containers[0].image" in fields
    assert ("FieldValueRequired", f"{path}.containers[0].image", "Required value") in got


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_bad_quantity_fails_decoding_for_a_pod_and_every_workload(stores, ctx, kind):
    """A Quantity that does not parse is refused while decoding (400), before validation,
    for a Pod and inside every template (kubernetes/apimachinery:pkg/api/resource/
    quantity.go UnmarshalJSON)."""
    ensure_revision_row()
    group, plural, build, path, restart = KINDS[kind]
    for g, p, obj, kind_name in (("", "pods", None, "Pod"), (group, plural, kind, kind)):
        spec = base_spec(restart)
        _container(spec)["resources"]["requests"].update(memory="lots")
        body = pod(spec) if obj is None else build(spec)
        with pytest.raises(errors.BadRequest) as exc:
            stores.store(g, "v1", p).create("default", body, ctx)
        assert exc.value.code == 400
        assert exc.value.message == (
            f'{kind_name} in version "v1" cannot be handled as a {kind_name}: quantities must '
            "match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
        assert stores.store(g, "v1", p).list("default")["items"] == []


# ---- a spec a Pod may have, every workload may have ------------------------------------------

@pytest.mark.parametrize("kind", list(KINDS))
def test_valid_as_pod_is_valid_in_every_workload(create, kind):
    group, plural, build, path, restart = KINDS[kind]
    spec = base_spec(restart)
    assert not isinstance(create("", "pods", pod(spec)), errors.Invalid)
    created = create(group, plural, build(spec))
    assert not isinstance(created, errors.Invalid), sorted(causes(created))


@pytest.mark.parametrize("kind", list(KINDS))
def test_host_network_template_may_leave_host_ports_to_the_pods(create, kind):
    """Upstream ``validatePodHostNetworkDeps``: a template may leave hostPort 0 (the Pod's
    ``SetDefaults_Pod`` fills it in), a Pod's hostPort must equal its containerPort."""
    group, plural, build, path, restart = KINDS[kind]
    spec = {**base_spec(restart), "hostNetwork": True}
    stored = create(group, plural, build(spec))
    assert not isinstance(stored, errors.Invalid), sorted(causes(stored))
    template_spec = _at(stored, path)
    assert "hostPort" not in template_spec["containers"][0]["ports"][0]
    stored_pod = create("", "pods", pod(spec))
    assert stored_pod["spec"]["containers"][0]["ports"][0]["hostPort"] == 80


# ---- defaults --------------------------------------------------------------------------------

def defaults_spec(restart: str) -> dict:
    """Many nested defaulters, none of the Pod-only ones (no limits, no hostNetwork)."""
    return {
        "restartPolicy": restart, "dnsPolicy": "", "schedulerName": "",
        "containers": [{
            "name": "app", "image": "registry.local:5000/team/app",
            "ports": [{"containerPort": 80, "protocol": ""}],
            "env": [{"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}],
            "livenessProbe": {"httpGet": {"port": 80, "path": ""}, "timeoutSeconds": 0},
            "readinessProbe": {"grpc": {"port": 9000}},
            "lifecycle": {"postStart": {"httpGet": {"port": 80}}},
        }],
        "initContainers": [{"name": "init", "image": "busybox@sha256:" + "a" * 64,
                            "command": ["true"]}],
        "volumes": [{"name": "scratch"},
                    {"name": "cfg", "configMap": {"name": "c"}},
                    {"name": "sec", "secret": {"secretName": "s"}},
                    {"name": "host", "hostPath": {"path": "/var/log"}},
                    {"name": "info", "downwardAPI": {"items": [
                        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
                    {"name": "proj", "projected": {"sources": [
                        {"serviceAccountToken": {"path": "token"}}]}},
                    {"name": "eph", "ephemeral": {"volumeClaimTemplate": {"spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "1Gi"}}}}}}],
    }


def _at(obj: dict, path: str) -> dict:
    for key in path.split("."):
        obj = obj[key]
    return obj


def shared_part(spec: dict) -> dict:
    return {k: v for k, v in spec.items() if k not in POD_ONLY_SPEC_FIELDS}


@pytest.mark.parametrize("kind", list(KINDS))
def test_template_defaults_equal_pod_defaults(create, kind):
    group, plural, build, path, restart = KINDS[kind]
    spec = defaults_spec(restart)
    stored_pod = create("", "pods", pod(spec))
    stored = create(group, plural, build(spec))
    assert not isinstance(stored_pod, errors.Invalid), sorted(causes(stored_pod))
    assert not isinstance(stored, errors.Invalid), sorted(causes(stored))
    template_spec, pod_spec = _at(stored, path), stored_pod["spec"]
    assert shared_part(template_spec) == shared_part(pod_spec)
    # a few of the shared defaults, by value (upstream treats "" and 0 as unset)
    assert template_spec["dnsPolicy"] == "ClusterFirst"
    assert template_spec["schedulerName"] == "default-scheduler"
    c = template_spec["containers"][0]
    assert c["imagePullPolicy"] == "Always" and c["ports"][0]["protocol"] == "TCP"
    assert c["livenessProbe"]["httpGet"]["path"] == "/" and c["livenessProbe"]["timeoutSeconds"] == 1
    assert c["readinessProbe"]["grpc"]["service"] == ""
    assert c["lifecycle"]["postStart"]["httpGet"] == {"port": 80, "path": "/", "scheme": "HTTP"}
    assert template_spec["initContainers"][0]["imagePullPolicy"] == "IfNotPresent"
    volumes = {v["name"]: v for v in template_spec["volumes"]}
    assert volumes["scratch"]["emptyDir"] == {}
    assert volumes["info"]["downwardAPI"]["items"][0]["fieldRef"]["apiVersion"] == "v1"
    assert volumes["proj"]["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"] == 3600
    assert volumes["eph"]["ephemeral"]["volumeClaimTemplate"]["spec"]["volumeMode"] == "Filesystem"


@pytest.mark.parametrize("kind", list(KINDS))
def test_pod_only_defaults_stay_off_templates(create, kind):
    """``SetDefaults_Pod``: "we only want this defaulting semantic to take place on a v1.Pod
    and not a v1.PodTemplate" — requests from limits, enableServiceLinks, host ports."""
    group, plural, build, path, restart = KINDS[kind]
    spec = base_spec(restart)
    spec["containers"][0]["resources"] = {"limits": {"cpu": "1", "memory": "128Mi"}}
    stored_pod = create("", "pods", pod(spec))
    stored = create(group, plural, build(spec))
    template_spec, pod_spec = _at(stored, path), stored_pod["spec"]
    assert pod_spec["enableServiceLinks"] is True
    assert "enableServiceLinks" not in template_spec
    assert pod_spec["containers"][0]["resources"]["requests"] == {"cpu": "1", "memory": "128Mi"}
    assert "requests" not in template_spec["containers"][0]["resources"]


# ---- StatefulSet: upstream's documented exception --------------------------------------------

@pytest.mark.parametrize("case", ["missing-image", "mount-of-missing-volume", "bad-container-name"])
def test_statefulset_leaves_the_pod_spec_to_its_pods(create, case):
    group, plural, build, path, restart = KINDS["StatefulSet"]
    spec = base_spec(restart)
    dict(INVALID)[case](spec)
    assert isinstance(create("", "pods", pod(spec)), errors.Invalid)
    stored = create(group, plural, build(spec))
    assert not isinstance(stored, errors.Invalid), sorted(causes(stored))


def test_statefulset_mounts_may_name_claim_templates(create):
    """Why upstream leaves the pod spec out: a mount may name a ``volumeClaimTemplates`` entry."""
    group, plural, build, path, restart = KINDS["StatefulSet"]
    spec = base_spec(restart)
    _container(spec)["volumeMounts"].append({"name": "www", "mountPath": "/www"})
    obj = build(spec)
    obj["spec"]["volumeClaimTemplates"] = [{"metadata": {"name": "www"},
                                            "spec": {"accessModes": ["ReadWriteOnce"],
                                                     "resources": {"requests": {"storage": "1Gi"}}}}]
    stored = create(group, plural, obj)
    assert not isinstance(stored, errors.Invalid), sorted(causes(stored))


def test_statefulset_still_checks_restart_policy_and_template_labels(create):
    group, plural, build, path, restart = KINDS["StatefulSet"]
    spec = base_spec("OnFailure")
    obj = build(spec)
    obj["spec"]["template"]["metadata"]["labels"]["bad key!"] = "x"
    fields = {field for _, field, _ in causes(create(group, plural, obj))}
    assert {"spec.template.spec.restartPolicy", "spec.template.labels"} <= fields
