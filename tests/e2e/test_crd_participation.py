"""Custom resources take part in what built-ins do, against the real server with kubectl:
RBAC names them by plural (and plural/subresource), ValidatingAdmissionPolicies match them,
and deleting their namespace deletes them."""
from __future__ import annotations

import json
import time

import pytest

from auth_support import eventually

GROUP = "part.example.com"
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": f"things.{GROUP}"},
    "spec": {"group": GROUP, "scope": "Namespaced",
             "names": {"plural": "things", "singular": "thing", "kind": "Thing"},
             "versions": [{"name": "v1", "served": True, "storage": True,
                           "subresources": {"status": {}},
                           "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                               "spec": {"type": "object",
                                        "properties": {"size": {"type": "integer"}}},
                               "status": {"type": "object",
                                          "properties": {"ready": {"type": "boolean"}}}}}}}]}}


def thing(name: str, size: int = 1) -> str:
    return json.dumps({"apiVersion": f"{GROUP}/v1", "kind": "Thing",
                       "metadata": {"name": name}, "spec": {"size": size}})


@pytest.fixture(scope="module")
def things(kubectl):
    kubectl("apply", "-f", "-", input=json.dumps(CRD))
    kubectl("wait", "--for=condition=Established", f"crd/things.{GROUP}", "--timeout=30s")
    deadline = time.monotonic() + 20
    while kubectl("get", "things", "-A", check=False).returncode != 0:
        assert time.monotonic() < deadline, "things never served"
        time.sleep(0.3)
    yield
    kubectl("delete", "crd", f"things.{GROUP}", "--timeout=60s", check=False)


def test_rbac_names_the_plural_and_its_subresource(kubectl, things, namespace):
    kubectl("apply", "-n", namespace, "-f", "-", input=thing("t"))
    kubectl("create", "role", "thing-editor", "-n", namespace, "--verb=get,list,patch",
            f"--resource=things.{GROUP}")
    kubectl("create", "rolebinding", "alice-things", "-n", namespace, "--role=thing-editor",
            "--user=alice")
    # the authorizer follows roles and bindings as upstream's informers do: soon, not at once
    assert eventually(lambda: kubectl("get", "things", "-n", namespace, "--as=alice",
                                      check=False).returncode == 0)
    kubectl("patch", "thing", "t", "-n", namespace, "--as=alice", "--type=merge",
            "-p", '{"spec":{"size":2}}')
    cp = kubectl("patch", "thing", "t", "-n", namespace, "--as=alice", "--type=merge",
                 "--subresource=status", "-p", '{"status":{"ready":true}}', check=False)
    assert cp.returncode != 0
    # kubectl reads the subresource before patching it: the GET is what is refused
    assert (f'things.{GROUP} "t" is forbidden: User "alice" cannot get resource '
            f'"things/status" in API group "{GROUP}" in the namespace "{namespace}"') \
        in cp.stderr, cp.stderr
    assert kubectl("auth", "can-i", "patch", f"things.{GROUP}", "--subresource=status",
                   "-n", namespace, "--as=alice", check=False).stdout.strip() == "no"
    assert kubectl("get", "things", "-n", "default", "--as=alice",
                   check=False).returncode != 0          # another namespace: no binding


POLICY = {
    "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
    "metadata": {"name": "small-things"},
    "spec": {"failurePolicy": "Fail",
             "matchConstraints": {"resourceRules": [{
                 "apiGroups": [GROUP], "apiVersions": ["v1"],
                 "operations": ["CREATE", "UPDATE"], "resources": ["things"]}]},
             "validations": [{"expression": "object.spec.size <= 3",
                              "message": "things are small"}]}}
BINDING = {
    "apiVersion": "admissionregistration.k8s.io/v1",
    "kind": "ValidatingAdmissionPolicyBinding", "metadata": {"name": "small-things-b"},
    "spec": {"policyName": "small-things", "validationActions": ["Deny"]}}


def test_an_admission_policy_matches_custom_resources(kubectl, things, namespace):
    kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                  "items": [POLICY, BINDING]}))
    try:
        deadline = time.monotonic() + 20
        while True:
            cp = kubectl("apply", "-n", namespace, "-f", "-", input=thing("big", 5),
                         check=False)
            if cp.returncode != 0 or time.monotonic() > deadline:
                break
            kubectl("delete", "thing", "big", "-n", namespace, check=False)
            time.sleep(0.3)
        assert ("ValidatingAdmissionPolicy 'small-things' with binding 'small-things-b' "
                "denied request: things are small") in cp.stderr, cp.stderr
        kubectl("apply", "-n", namespace, "-f", "-", input=thing("small", 2))
    finally:
        kubectl("delete", "validatingadmissionpolicybinding", "small-things-b", check=False)
        kubectl("delete", "validatingadmissionpolicy", "small-things", check=False)


def test_deleting_the_namespace_deletes_its_custom_resources(kubectl, things):
    ns = f"things-{int(time.time() * 1000) % 10**8}"
    kubectl("create", "namespace", ns)
    for name in ("a", "b"):
        kubectl("apply", "-n", ns, "-f", "-", input=thing(name))
    kubectl("delete", "namespace", ns, "--timeout=60s")
    kubectl("create", "namespace", ns)                   # the same name again: empty
    try:
        listed = json.loads(kubectl("get", "things", "-n", ns, "-o", "json").stdout)
        assert listed["items"] == []
    finally:
        kubectl("delete", "namespace", ns, "--wait=false", check=False)
