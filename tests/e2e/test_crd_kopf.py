"""A real operator, unmodified: a kopf (pip ``kopf``) operator run with ``kopf run`` against
a real server, handling create, update and delete of a custom resource and writing its
status.  Everything it needs comes from the server as from kube-apiserver: discovery of the
CRD, list+watch, merge patches of the object and of /status, its finalizer, Events."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

GROUP = "kopf.example.com"
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": f"greetings.{GROUP}"},
    "spec": {"group": GROUP, "scope": "Namespaced",
             "names": {"plural": "greetings", "singular": "greeting", "kind": "Greeting"},
             "versions": [{"name": "v1", "served": True, "storage": True,
                           "subresources": {"status": {}},
                           "schema": {"openAPIV3Schema": {
                               "type": "object", "properties": {
                                   "spec": {"type": "object", "properties": {
                                       "name": {"type": "string"}}},
                                   "status": {"type": "object",
                                              "x-kubernetes-preserve-unknown-fields": True}}}}}]}}

OPERATOR = textwrap.dedent('''
    import kopf

    @kopf.on.create("kopf.example.com", "v1", "greetings")
    def created(spec, **_):
        return {"text": "hello " + spec.get("name", "?")}

    @kopf.on.update("kopf.example.com", "v1", "greetings", field="spec.name")
    def renamed(new, patch, **_):
        patch.status["renamed"] = "hello " + new

    @kopf.on.delete("kopf.example.com", "v1", "greetings")
    def deleted(name, **_):
        with open(__file__ + ".deleted", "a") as fh:
            fh.write(name + "\\n")
''')


def eventually(check, timeout=45.0):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.3)


@pytest.fixture(scope="module")
def operator(server, kubectl, tmp_path_factory):
    kubectl("apply", "-f", "-", input=json.dumps(CRD))
    kubectl("wait", "--for=condition=Established", f"crd/greetings.{GROUP}", "--timeout=30s")
    d = tmp_path_factory.mktemp("kopf")
    script = d / "operator.py"
    script.write_text(OPERATOR)
    log = open(d / "kopf.log", "wb")
    env = dict(os.environ, KUBECONFIG=str(server.kubeconfig))
    proc = subprocess.Popen([sys.executable, "-m", "kopf", "run", "--standalone", "-A",
                             str(script)], env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        yield script, d / "kopf.log"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        kubectl("delete", "crd", f"greetings.{GROUP}", "--ignore-not-found", check=False)


def get(kubectl, name):
    cp = kubectl("get", "greeting", name, "-o", "json", check=False)
    return json.loads(cp.stdout) if cp.returncode == 0 else None


def test_the_operator_handles_create_update_and_delete(kubectl, operator):
    script, log = operator
    kubectl("apply", "-f", "-", input=json.dumps(
        {"apiVersion": f"{GROUP}/v1", "kind": "Greeting", "metadata": {"name": "hi"},
         "spec": {"name": "world"}}))
    done = eventually(lambda: ((get(kubectl, "hi") or {}).get("status") or {})
                      .get("created", {}).get("text") == "hello world")
    assert done, log.read_text()[-3000:]
    obj = get(kubectl, "hi")
    assert "kopf.zalando.org/KopfFinalizerMarker" in obj["metadata"]["finalizers"]

    kubectl("patch", "greeting", "hi", "--type=merge", "-p",
            json.dumps({"spec": {"name": "kopf"}}))
    assert eventually(lambda: ((get(kubectl, "hi") or {}).get("status") or {})
                      .get("renamed") == "hello kopf"), log.read_text()[-3000:]

    kubectl("delete", "greeting", "hi", "--timeout=60s")
    assert get(kubectl, "hi") is None
    marker = script.with_name(script.name + ".deleted")
    assert marker.read_text().split() == ["hi"]
