"""PodSecurity: each check of the Pod Security Standards with upstream's reasons and details
at baseline and restricted, by version; namespace labels, modes, exemptions, the plugin's
configuration; the namespace update's evaluation of existing pods."""
from __future__ import annotations

import copy

import orjson
import pytest

from apiserver.admission.base import Attributes
from apiserver.authentication.user import UserInfo
from apiserver.registry.context import system_context
from apiserver.runtime import errors
from resources.admission.pod_security import PodSecurity, significant_pod_update
from resources.admission.pod_security_registry import checks_for, evaluate
from resources.admission.pod_security_policy import (LevelVersion, Policy, load_configuration,
                                                     parse_version, policy_to_evaluate)
from tests.apiserver.storage.support import ensure_revision_row
from tests.conftest import build_server


def pod(*containers, name="p", annotations=None, **spec):
    meta = {"name": name}
    if annotations:
        meta["annotations"] = annotations
    return {"metadata": meta,
            "spec": {"containers": list(containers) or [c()], **spec}}


def c(name="x", image="busybox", **sc):
    out = {"name": name, "image": image}
    if sc:
        out["securityContext"] = sc
    return out


def restricted_container(name="x", **extra):
    sc = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
          "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}, **extra}
    return c(name, **sc)


def detail(level, obj, version=None) -> str:
    return evaluate(level, version, obj["metadata"], obj["spec"]).detail()


# ---- the checks --------------------------------------------------------------------------
BASELINE_CASES = [
    (pod(c(privileged=True), c("y", privileged=True)),
     'privileged (containers "x", "y" must not set securityContext.privileged=true)'),
    (pod(hostNetwork=True, hostPID=True, hostIPC=True),
     "host namespaces (hostNetwork=true, hostPID=true, hostIPC=true)"),
    (pod(volumes=[{"name": "h", "hostPath": {"path": "/"}}, {"name": "e", "emptyDir": {}}]),
     'hostPath volumes (volume "h")'),
    (pod({"name": "x", "image": "b", "ports": [{"containerPort": 80, "hostPort": 8080},
                                                {"containerPort": 81, "hostPort": 10000}]}),
     'hostPort (container "x" uses hostPorts 10000, 8080)'),
    (pod(c(capabilities={"add": ["NET_RAW", "CHOWN", "SYS_ADMIN"]})),
     'non-default capabilities (container "x" must not include "NET_RAW", "SYS_ADMIN" in '
     "securityContext.capabilities.add)"),
    (pod(c(procMount="Unmasked")),
     'procMount (container "x" must not set securityContext.procMount to "Unmasked")'),
    (pod(securityContext={"sysctls": [{"name": "kernel.msgmax", "value": "1"},
                                      {"name": "net.ipv4.tcp_syncookies", "value": "1"},
                                      {"name": "vm.swappiness", "value": "1"}]}),
     "forbidden sysctls (kernel.msgmax, vm.swappiness)"),
    (pod(c(seLinuxOptions={"type": "spc_t", "user": "u"}),
         securityContext={"seLinuxOptions": {"role": "r"}}),
     'seLinuxOptions (pod and container "x" set forbidden securityContext.seLinuxOptions: '
     'type "spc_t"; user may not be set; role may not be set)'),
    (pod(c(seccompProfile={"type": "Unconfined"}),
         securityContext={"seccompProfile": {"type": "Unconfined"}}),
     'seccompProfile (pod and container "x" must not set securityContext.seccompProfile.type '
     'to "Unconfined")'),
    (pod(c(appArmorProfile={"type": "Unconfined"}),
         annotations={"container.apparmor.security.beta.kubernetes.io/x": "unconfined"}),
     'forbidden AppArmor profiles (container "x" and annotation must not set AppArmor profile '
     # upstream's joinQuote does not escape the annotation's own quotes
     'type to "Unconfined", "container.apparmor.security.beta.kubernetes.io/x="unconfined"")'),
    (pod(c(windowsOptions={"hostProcess": True}),
         securityContext={"windowsOptions": {"hostProcess": True}}),
     'hostProcess (pod and container "x" must not set '
     "securityContext.windowsOptions.hostProcess=true)"),
]


@pytest.mark.parametrize("obj,expected", BASELINE_CASES)
def test_baseline_checks_and_their_messages(obj, expected):
    assert detail("baseline", obj) == expected
    assert detail("privileged", obj) == ""


def test_baseline_allows_what_it_allows():
    ok = pod(c(privileged=False, capabilities={"add": ["CHOWN", "NET_BIND_SERVICE"]},
               procMount="Default", seccompProfile={"type": "RuntimeDefault"},
               seLinuxOptions={"type": "container_t"}, appArmorProfile={"type": "Localhost"}),
             securityContext={"sysctls": [{"name": "net.ipv4.ip_local_port_range", "value": "1 2"}]},
             volumes=[{"name": "s", "secret": {"secretName": "s"}}],
             annotations={"container.apparmor.security.beta.kubernetes.io/x": "runtime/default"})
    assert evaluate("baseline", None, ok["metadata"], ok["spec"]).allowed


def test_restricted_message_for_a_privileged_pod_in_upstream_order():
    assert detail("restricted", pod(c(privileged=True))) == (
        'privileged (container "x" must not set securityContext.privileged=true), '
        'allowPrivilegeEscalation != false (container "x" must set '
        "securityContext.allowPrivilegeEscalation=false), "
        'unrestricted capabilities (container "x" must set securityContext.capabilities.drop=["ALL"]), '
        'runAsNonRoot != true (pod or container "x" must set securityContext.runAsNonRoot=true), '
        'seccompProfile (pod or container "x" must set securityContext.seccompProfile.type to '
        '"RuntimeDefault" or "Localhost")')


RESTRICTED_CASES = [
    (pod(restricted_container(), restricted_container("y", runAsUser=0),
         securityContext={"runAsUser": 0}),
     'runAsUser=0 (pod and container "y" must not set runAsUser=0)'),
    (pod(restricted_container(), c("y", allowPrivilegeEscalation=False,
                                   capabilities={"drop": ["ALL"], "add": ["NET_RAW"]},
                                   seccompProfile={"type": "Localhost"}, runAsNonRoot=False)),
     'unrestricted capabilities (container "y" must not include "NET_RAW" in '
     "securityContext.capabilities.add), runAsNonRoot != true (container \"y\" must not set "
     "securityContext.runAsNonRoot=false)"),
    (pod(restricted_container(), volumes=[{"name": "h", "hostPath": {"path": "/"}},
                                          {"name": "n", "nfs": {"server": "s", "path": "/"}},
                                          {"name": "p", "persistentVolumeClaim": {"claimName": "c"}}]),
     'restricted volume types (volumes "h", "n" use restricted volume types "hostPath", "nfs")'),
    (pod(restricted_container(), initContainers=[c("i", allowPrivilegeEscalation=True)],
         securityContext={"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}),
     'allowPrivilegeEscalation != false (container "i" must set '
     'securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "i" '
     'must set securityContext.capabilities.drop=["ALL"])'),
]


@pytest.mark.parametrize("obj,expected", RESTRICTED_CASES)
def test_restricted_checks_and_their_messages(obj, expected):
    assert detail("restricted", obj) == expected


def test_compliant_restricted_pod_and_pod_level_settings():
    ok = pod(c("x", allowPrivilegeEscalation=False, capabilities={"drop": ["ALL"],
                                                                  "add": ["NET_BIND_SERVICE"]}),
             securityContext={"runAsNonRoot": True, "runAsUser": 1000,
                              "seccompProfile": {"type": "RuntimeDefault"}},
             volumes=[{"name": "v", "projected": {"sources": []}}])
    assert evaluate("restricted", None, ok["metadata"], ok["spec"]).allowed
    assert evaluate("restricted", 20, ok["metadata"], ok["spec"]).allowed


def test_ephemeral_containers_are_checked():
    obj = pod(restricted_container(), ephemeralContainers=[c("debug", privileged=True)])
    assert detail("baseline", obj) == (
        'privileged (container "debug" must not set securityContext.privileged=true)')


def test_versions_choose_the_implementation():
    bare = pod(c())
    # allowPrivilegeEscalation appears in 1.8, capabilities_restricted in 1.22, runAsUser 1.23
    assert detail("restricted", bare, 7).startswith("runAsNonRoot != true")
    assert "allowPrivilegeEscalation" in detail("restricted", bare, 8)
    assert "unrestricted capabilities" not in detail("restricted", bare, 21)
    assert "unrestricted capabilities" in detail("restricted", bare, 22)
    root = pod(restricted_container(runAsUser=0))
    assert detail("restricted", root, 22) == ""
    assert detail("restricted", root, 23) == 'runAsUser=0 (container "x" must not set runAsUser=0)'
    # before 1.22 restricted runs the baseline capability check instead
    cap = pod(restricted_container(capabilities={"drop": ["ALL"], "add": ["SYS_ADMIN"]}))
    assert detail("restricted", cap, 21).startswith("non-default capabilities")
    # before 1.19 seccomp was the alpha annotation
    ann = pod(restricted_container(), annotations={
        "seccomp.security.alpha.kubernetes.io/pod": "unconfined",
        "container.seccomp.security.alpha.kubernetes.io/x": "docker/default"})
    assert detail("baseline", ann, 18) == (
        'seccompProfile (forbidden annotation seccomp.security.alpha.kubernetes.io/pod="unconfined")')
    assert detail("baseline", ann, 19) == ""
    # sysctls widen in 1.27, 1.29 and 1.32; seLinux container_engine_t in 1.31
    rmem = pod(securityContext={"sysctls": [{"name": "net.ipv4.tcp_rmem", "value": "1"}]})
    assert detail("baseline", rmem, 31) == "forbidden sysctls (net.ipv4.tcp_rmem)"
    assert detail("baseline", rmem, 32) == detail("baseline", rmem) == ""
    engine = pod(c(seLinuxOptions={"type": "container_engine_t"}))
    assert detail("baseline", engine, 30).startswith("seLinuxOptions")
    assert detail("baseline", engine, 31) == ""
    # windows pods skip the restricted Linux-only checks from 1.25
    win = pod(c(), os={"name": "windows"})
    assert detail("restricted", win, 25) == ('runAsNonRoot != true (pod or container "x" must set '
                                             "securityContext.runAsNonRoot=true)")
    assert "allowPrivilegeEscalation" in detail("restricted", win, 24)
    # a future version evaluates as the newest
    assert checks_for("restricted", 99) == checks_for("restricted", 32)


def test_empty_structs_are_set_values():
    # Go pointers: {} is a set seccompProfile with an empty type, null is unset
    assert detail("baseline", pod(c(seccompProfile={}))) == (
        'seccompProfile (container "x" must not set securityContext.seccompProfile.type to "")')
    assert detail("baseline", pod(c(seccompProfile=None))) == ""


# ---- labels and configuration ------------------------------------------------------------
DEFAULTS = Policy()


def test_labels_to_policy_and_warn_following_enforce():
    policy, errs = policy_to_evaluate({"pod-security.kubernetes.io/enforce": "baseline",
                                       "pod-security.kubernetes.io/enforce-version": "v1.25"},
                                      DEFAULTS)
    assert errs == []
    assert str(policy.enforce) == "baseline:v1.25" and str(policy.warn) == "baseline:v1.25"
    assert str(policy.audit) == "privileged:latest"
    policy, _ = policy_to_evaluate({"pod-security.kubernetes.io/enforce": "restricted",
                                    "pod-security.kubernetes.io/warn": "baseline"}, DEFAULTS)
    assert str(policy.warn) == "baseline:latest"
    assert parse_version("v1.0") == (0, "") and parse_version("v1.01")[1]


def test_invalid_labels_fail_closed_for_enforce_and_open_for_the_others():
    policy, errs = policy_to_evaluate({"pod-security.kubernetes.io/enforce": "strict",
                                       "pod-security.kubernetes.io/audit": "nope",
                                       "pod-security.kubernetes.io/warn-version": "1.25"}, DEFAULTS)
    assert str(policy.enforce) == "restricted:latest"
    assert policy.audit.level == "privileged" and policy.warn.level == "privileged"
    assert [e.error_text() for e in errs] == [
        'metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "strict": must be '
        "one of privileged, baseline, restricted",
        'metadata.labels[pod-security.kubernetes.io/audit]: Invalid value: "nope": must be one '
        "of privileged, baseline, restricted",
        'metadata.labels[pod-security.kubernetes.io/warn-version]: Invalid value: "1.25": must '
        'be "latest" or "v1.x"']


def test_configuration_parsing_defaults_and_validation():
    api = {"apiVersion": "pod-security.admission.config.k8s.io/v1",
           "kind": "PodSecurityConfiguration"}
    conf = load_configuration({**api, "defaults": {"enforce": "baseline", "warn-version": "v1.30"},
                               "exemptions": {"usernames": ["admin"], "namespaces": ["kube-system"],
                                              "runtimeClasses": ["kata"]}})
    assert conf.defaults == Policy(LevelVersion("baseline"), LevelVersion(),
                                   LevelVersion("privileged", 30))
    assert (conf.usernames, conf.namespaces, conf.runtime_classes) == (
        ("admin",), ("kube-system",), ("kata",))
    assert load_configuration(None).defaults.fully_privileged()
    with pytest.raises(ValueError, match='^PodSecurity configuration error: enforce: must be one of'):
        load_configuration({**api, "defaults": {"enforce": "strict"}})
    with pytest.raises(ValueError) as exc:
        load_configuration({**api, "exemptions": {"namespaces": ["a", "a", "B"], "usernames": [""]}})
    assert str(exc.value).startswith(
        'PodSecurity invalid: [exemptions.namespaces[1]: Duplicate value: "a", '
        'exemptions.namespaces[2]: Invalid value: "B": a lowercase RFC 1123 label')
    assert str(exc.value).endswith(
        'exemptions.usernames[0]: Invalid value: "": username must not be empty]')
    with pytest.raises(ValueError, match='unknown field "defaults.enforcee"'):
        load_configuration({**api, "defaults": {"enforcee": "baseline"}})
    with pytest.raises(ValueError, match="no kind"):
        load_configuration({"apiVersion": "v1", "kind": "PodSecurityConfiguration"})
    conf = load_configuration({**api, "apiVersion": "pod-security.admission.config.k8s.io/v1beta1"})
    assert conf.defaults.fully_privileged()


# ---- the plugin through the Store --------------------------------------------------------
@pytest.fixture
def stores(db):
    ensure_revision_row()
    return build_server(admission_plugins=("PodSecurity",))[0].stores


def namespace(stores, name, **labels):
    """A namespace written past admission (so that bad labels can be stored too)."""
    labels = {f"pod-security.kubernetes.io/{k.replace('_', '-')}": v for k, v in labels.items()}
    build_server()[0].stores.store("", "v1", "namespaces").create(
        None, {"metadata": {"name": name, "labels": labels}}, system_context("tests"))


def create_pod(stores, ctx, obj, ns="ns1"):
    return orjson.loads(stores.store("", "v1", "pods").create(ns, obj, ctx))


def test_enforce_refuses_with_upstream_message(stores, ctx):
    namespace(stores, "ns1", enforce="restricted")
    with pytest.raises(errors.Forbidden) as exc:
        create_pod(stores, ctx, pod(c(privileged=True), name="p"))
    assert exc.value.message.startswith(
        'pods "p" is forbidden: violates PodSecurity "restricted:latest": privileged (container '
        '"x" must not set securityContext.privileged=true), allowPrivilegeEscalation != false')
    assert exc.value.code == 403
    create_pod(stores, ctx, pod(restricted_container(), name="ok"))
    assert ctx.warnings == []


def test_warn_mode_warns_and_admits(stores, ctx):
    namespace(stores, "ns1", enforce="baseline", warn="restricted", warn_version="v1.30")
    create_pod(stores, ctx, pod(c(), name="w"))
    assert ctx.warnings == [
        'would violate PodSecurity "restricted:v1.30": allowPrivilegeEscalation != false '
        '(container "x" must set securityContext.allowPrivilegeEscalation=false), unrestricted '
        'capabilities (container "x" must set securityContext.capabilities.drop=["ALL"]), '
        'runAsNonRoot != true (pod or container "x" must set securityContext.runAsNonRoot=true), '
        'seccompProfile (pod or container "x" must set securityContext.seccompProfile.type to '
        '"RuntimeDefault" or "Localhost")']


def test_controllers_get_warnings_never_refusals(stores, ctx):
    namespace(stores, "ns1", enforce="restricted")
    template = {"metadata": {"labels": {"app": "a"}},
                "spec": {"containers": [c(privileged=True)]}}
    stores.store("apps", "v1", "deployments").create("ns1", {
        "metadata": {"name": "d"},
        "spec": {"selector": {"matchLabels": {"app": "a"}}, "template": template}}, ctx)
    assert len(ctx.warnings) == 1
    assert ctx.warnings[0].startswith('would violate PodSecurity "restricted:latest": privileged')
    ctx.warnings.clear()
    stores.store("batch", "v1", "cronjobs").create("ns1", {
        "metadata": {"name": "cj"},
        "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {
            "spec": {**template["spec"], "restartPolicy": "Never"}}}}}}, ctx)
    assert ctx.warnings and ctx.warnings[0].startswith('would violate PodSecurity "restricted:latest"')


def plugin_for(stores, config=None) -> PodSecurity:
    plugin = PodSecurity()
    plugin.configure(config)
    plugin.set_stores(stores)
    return plugin


def attrs_for(obj, old=None, operation="CREATE", resource="pods", subresource="", user="u",
              ns="ns1", group=""):
    kind = {"pods": "Pod", "namespaces": "Namespace"}.get(resource, "X")
    name = obj["metadata"]["name"]
    return Attributes(operation=operation, group=group, version="v1", kind=kind,
                      resource=resource, subresource=subresource,
                      namespace="" if resource == "namespaces" else ns, name=name, obj=obj,
                      old=old, user=UserInfo(user))


CONFIG = {"apiVersion": "pod-security.admission.config.k8s.io/v1",
          "kind": "PodSecurityConfiguration",
          "exemptions": {"usernames": ["root-user"], "namespaces": ["free"],
                         "runtimeClasses": ["kata"]}}


def test_audit_annotations_and_exemptions(stores):
    namespace(stores, "ns1", enforce="baseline", audit="restricted")
    namespace(stores, "free", enforce="restricted")
    plugin = plugin_for(stores, CONFIG)
    a = attrs_for(pod(c()))
    plugin.validate(a)
    assert a.annotations["pod-security.kubernetes.io/enforce-policy"] == "baseline:latest"
    assert a.annotations["pod-security.kubernetes.io/audit-violations"].startswith(
        'would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false')
    bad = pod(c(privileged=True))
    for attrs, reason in ((attrs_for(bad, user="root-user"), "user"),
                          (attrs_for(bad, ns="free"), "namespace"),
                          (attrs_for(pod(c(privileged=True), runtimeClassName="kata")),
                           "runtimeClass")):
        plugin.validate(attrs)
        assert attrs.annotations == {"pod-security.kubernetes.io/exempt": reason}
    with pytest.raises(errors.Forbidden):
        plugin.validate(attrs_for(bad))
    # an unlabelled namespace with privileged defaults: nothing evaluated
    namespace(stores, "plain")
    a = attrs_for(bad, ns="plain")
    plugin.validate(a)
    assert a.annotations == {"pod-security.kubernetes.io/enforce-policy": "privileged:latest"}


def test_invalid_namespace_labels(stores):
    plugin = plugin_for(stores)
    labels = {"pod-security.kubernetes.io/enforce": "strict"}
    ns = {"metadata": {"name": "bad", "labels": labels}}
    with pytest.raises(errors.Invalid) as exc:
        plugin.validate(attrs_for(ns, resource="namespaces"))
    assert exc.value.message == (
        'Namespace "bad" is invalid: metadata.labels[pod-security.kubernetes.io/enforce]: '
        'Invalid value: "strict": must be one of privileged, baseline, restricted')
    # an update keeping the same bad labels is let through; pods are then held to restricted
    plugin.validate(attrs_for(ns, old=copy.deepcopy(ns), operation="UPDATE", resource="namespaces"))
    namespace(stores, "ns1", enforce="strict")
    a = attrs_for(pod(c()))
    with pytest.raises(errors.Forbidden, match='violates PodSecurity "restricted:latest"'):
        plugin.validate(a)
    assert a.annotations["pod-security.kubernetes.io/error"].startswith(
        "Failed to parse policy: metadata.labels[pod-security.kubernetes.io/enforce]")


def test_subresources_and_insignificant_updates(stores):
    namespace(stores, "ns1", enforce="restricted")
    plugin = plugin_for(stores)
    bad = pod(c(privileged=True))
    plugin.validate(attrs_for(bad, subresource="status", operation="UPDATE", old=bad))
    changed = copy.deepcopy(bad)
    changed["metadata"]["labels"] = {"a": "b"}
    changed["spec"]["tolerations"] = [{"key": "k", "operator": "Exists"}]
    assert not significant_pod_update(changed, bad)
    plugin.validate(attrs_for(changed, old=bad, operation="UPDATE"))
    changed["spec"]["containers"][0]["image"] = "other"
    with pytest.raises(errors.Forbidden):
        plugin.validate(attrs_for(changed, old=bad, operation="UPDATE"))
    good = pod(restricted_container())
    debug = copy.deepcopy(good)
    debug["spec"]["ephemeralContainers"] = [c("debug", privileged=True)]
    with pytest.raises(errors.Forbidden, match='container "debug" must not set'):
        plugin.validate(attrs_for(debug, old=good, operation="UPDATE",
                                  subresource="ephemeralcontainers"))


def test_namespace_update_evaluates_existing_pods(stores, ctx):
    namespace(stores, "ns1")
    for name in ("b", "a", "c"):
        create_pod(stores, ctx, pod(c(privileged=True), name=name))
    create_pod(stores, ctx, pod(c(), name="plain"))
    create_pod(stores, ctx, pod(restricted_container(), name="good"))
    plugin = plugin_for(stores)
    old = {"metadata": {"name": "ns1"}}
    new = {"metadata": {"name": "ns1", "labels": {"pod-security.kubernetes.io/enforce": "baseline"}}}
    a = attrs_for(new, old=old, operation="UPDATE", resource="namespaces")
    plugin.validate(a)
    assert a.warnings == [
        'existing pods in namespace "ns1" violate the new PodSecurity enforce level '
        '"baseline:latest"',
        "a (and 2 other pods): privileged"]
    new["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] = "restricted"
    a = attrs_for(new, old=old, operation="UPDATE", resource="namespaces")
    plugin.validate(a)
    assert a.warnings[1:] == [
        "a (and 2 other pods): privileged, allowPrivilegeEscalation != false, unrestricted "
        "capabilities, runAsNonRoot != true, seccompProfile",
        "plain: allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != "
        "true, seccompProfile"]
    # loosening, or an unchanged enforce level, evaluates nothing
    a = attrs_for(old, old=new, operation="UPDATE", resource="namespaces")
    plugin.validate(a)
    assert a.warnings == []


def test_exempt_namespace_warning(stores):
    plugin = plugin_for(stores, CONFIG)
    ns = {"metadata": {"name": "free", "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}}
    a = attrs_for(ns, resource="namespaces")
    plugin.validate(a)
    assert a.warnings == ['namespace "free" is exempt from Pod Security, and the policy '
                          "(enforce=restricted:latest) will be ignored"]


def test_registered_and_default_on():
    from apiserver.admission.base import DEFAULT_ON, registered
    assert "PodSecurity" in registered() and "PodSecurity" in DEFAULT_ON


def test_over_http_with_configured_defaults_and_ephemeral_containers(db, tmp_path):
    import dataclasses
    import json

    from apiserver.options import Options
    from tests.asgi import ASGIClient, in_process_app

    ensure_revision_row()
    config = tmp_path / "admission.yaml"
    config.write_text(json.dumps({
        "apiVersion": "apiserver.config.k8s.io/v1", "kind": "AdmissionConfiguration",
        "plugins": [{"name": "PodSecurity", "configuration": {
            "apiVersion": "pod-security.admission.config.k8s.io/v1",
            "kind": "PodSecurityConfiguration",
            "defaults": {"enforce": "baseline", "warn": "restricted"}}}]}))
    _, app = in_process_app(admission_plugins=("PodSecurity",), options=dataclasses.replace(
        Options(), admission_control_config_file=str(config)))
    client = ASGIClient(app)
    assert client.post("/api/v1/namespaces", {"metadata": {"name": "ns1"}}).status_code == 201
    # the configured default (baseline) applies to an unlabelled namespace
    r = client.post("/api/v1/namespaces/ns1/pods", pod(c(privileged=True), name="bad"))
    assert r.status_code == 403
    assert r.json()["reason"] == "Forbidden"
    assert r.json()["message"] == (
        'pods "bad" is forbidden: violates PodSecurity "baseline:latest": privileged '
        '(container "x" must not set securityContext.privileged=true)')
    r = client.post("/api/v1/namespaces/ns1/pods", pod(c(), name="good"))
    assert r.status_code == 201
    # the Warning header quotes the text (RFC 7234 warn-text)
    assert r.headers["warning"].startswith(
        '299 - "would violate PodSecurity \\"restricted:latest\\": allowPrivilegeEscalation != false')
    # adding a privileged ephemeral container goes through admission too
    current = r.json()
    current["spec"]["ephemeralContainers"] = [{"name": "debug", "image": "busybox",
                                               "securityContext": {"privileged": True}}]
    r = client.put("/api/v1/namespaces/ns1/pods/good/ephemeralcontainers", current)
    assert r.status_code == 403, r.json()
    assert 'container "debug" must not set securityContext.privileged=true' in r.json()["message"]
