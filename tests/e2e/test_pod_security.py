"""PodSecurity end to end with kubectl: namespace labels enforce (upstream's 403 message),
warn (kubectl's Warning lines on a Deployment), the warnings of a label change over
existing pods, invalid labels refused, a compliant restricted pod admitted, a Deployment
admitted with a warning while its ReplicaSet's pods are refused."""
from __future__ import annotations

import json
import time

PRIVILEGED_POD = {
    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "priv"},
    "spec": {"containers": [{"name": "c", "image": "busybox",
                             "securityContext": {"privileged": True}}]}}

RESTRICTED_POD = {
    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "tidy"},
    "spec": {"securityContext": {"runAsNonRoot": True, "runAsUser": 1000,
                                 "seccompProfile": {"type": "RuntimeDefault"}},
             "containers": [{"name": "c", "image": "busybox",
                             "securityContext": {"allowPrivilegeEscalation": False,
                                                 "capabilities": {"drop": ["ALL"]}}}]}}

RESTRICTED_REASONS = (
    'privileged (container "c" must not set securityContext.privileged=true), '
    'allowPrivilegeEscalation != false (container "c" must set '
    "securityContext.allowPrivilegeEscalation=false), "
    'unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), '
    'runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), '
    'seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to '
    '"RuntimeDefault" or "Localhost")')


def apply(server, namespace, obj, check=True):
    return server.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(obj), check=check)


def test_enforce_restricted_refuses_a_privileged_pod_and_admits_a_compliant_one(server, namespace):
    server.kubectl("label", "ns", namespace, "pod-security.kubernetes.io/enforce=restricted")
    out = apply(server, namespace, PRIVILEGED_POD, check=False)
    assert out.returncode != 0
    assert ('pods "priv" is forbidden: violates PodSecurity "restricted:latest": '
            + RESTRICTED_REASONS) in out.stderr
    status, _, _ = server.request("GET", f"/api/v1/namespaces/{namespace}/pods/priv")
    assert status == 404
    out = apply(server, namespace, RESTRICTED_POD)
    assert "pod/tidy created" in out.stdout
    assert "Warning" not in out.stderr


def test_warn_baseline_warns_on_a_deployment(server, namespace):
    server.kubectl("label", "ns", namespace, "pod-security.kubernetes.io/warn=baseline")
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"hostNetwork": True, "containers": [
                                  {"name": "c", "image": "busybox",
                                   "securityContext": {"privileged": True}}]}}}}
    out = apply(server, namespace, deployment)
    assert "deployment.apps/web created" in out.stdout
    assert ('Warning: would violate PodSecurity "baseline:latest": host namespaces '
            '(hostNetwork=true), privileged (container "c" must not set '
            "securityContext.privileged=true)") in out.stderr


def test_labelling_a_namespace_warns_about_existing_pods(server, namespace):
    apply(server, namespace, PRIVILEGED_POD)
    out = server.kubectl("label", "ns", namespace, "pod-security.kubernetes.io/enforce=restricted")
    assert f"namespace/{namespace} labeled" in out.stdout
    assert (f'Warning: existing pods in namespace "{namespace}" violate the new PodSecurity '
            'enforce level "restricted:latest"') in out.stderr
    assert ("Warning: priv: privileged, allowPrivilegeEscalation != false, unrestricted "
            "capabilities, runAsNonRoot != true, seccompProfile") in out.stderr
    # the existing pod stays; a label change that does not tighten says nothing
    out = server.kubectl("label", "ns", namespace, "--overwrite",
                         "pod-security.kubernetes.io/enforce=baseline")
    assert "Warning" not in out.stderr


def test_invalid_label_is_refused(server, namespace):
    out = server.kubectl("label", "ns", namespace, "pod-security.kubernetes.io/enforce=strict",
                         check=False)
    assert out.returncode != 0
    assert (f'Namespace "{namespace}" is invalid: '
            'metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "strict": must '
            "be one of privileged, baseline, restricted") in out.stderr


def test_enforced_namespace_deployment_is_warned_and_its_pods_refused(server, namespace):
    server.kubectl("label", "ns", namespace, "pod-security.kubernetes.io/enforce=baseline")
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "root"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "root"}},
                 "template": {"metadata": {"labels": {"app": "root"}},
                              "spec": {"containers": [
                                  {"name": "c", "image": "busybox",
                                   "securityContext": {"privileged": True}}]}}}}
    out = apply(server, namespace, deployment)
    # warn follows the enforce label; the Deployment itself is admitted
    assert ('Warning: would violate PodSecurity "baseline:latest": privileged (container "c" '
            "must not set securityContext.privileged=true)") in out.stderr
    deadline = time.monotonic() + 20
    message = ""
    while time.monotonic() < deadline and not message:
        events = server.get_json(f"/api/v1/namespaces/{namespace}/events")["items"]
        message = next((e["message"] for e in events if e.get("reason") == "FailedCreate"), "")
        time.sleep(0.2)
    # the ReplicaSet controller's pods are refused with the generated pod name
    assert message.startswith('Error creating: pods "root-'), message
    assert message.endswith('" is forbidden: violates PodSecurity "baseline:latest": privileged '
                            '(container "c" must not set securityContext.privileged=true)'), message
    assert server.get_json(f"/api/v1/namespaces/{namespace}/pods")["items"] == []
