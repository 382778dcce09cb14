"""ValidatingAdmissionPolicy type checking end to end: the server's status controller fills
``status.typeChecking`` and ``status.observedGeneration``, and ``kubectl get -o yaml``
shows upstream's warning for a field apps/v1 Deployment does not have."""
from __future__ import annotations

import time

import yaml

POLICY = """\
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: %s}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - apiGroups: [apps]
      apiVersions: [v1]
      operations: [CREATE, UPDATE]
      resources: [deployments]
  validations:
  - expression: "%s"
"""


def status_when_observed(server, name, generation, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        out = server.kubectl("get", "validatingadmissionpolicy", name, "-o", "yaml")
        doc = yaml.safe_load(out.stdout)
        status = doc.get("status") or {}
        if status.get("observedGeneration") == generation or time.monotonic() > deadline:
            return out.stdout, status


def test_kubectl_shows_type_checking_warnings(server):
    server.kubectl("apply", "-f", "-", input=POLICY % ("tc-bad", "object.replicas > 1"))
    server.kubectl("apply", "-f", "-", input=POLICY % ("tc-good", "object.spec.replicas > 1"))
    try:
        text, status = status_when_observed(server, "tc-bad", 1)
        assert status == {"observedGeneration": 1, "typeChecking": {"expressionWarnings": [{
            "fieldRef": "spec.validations[0].expression",
            "warning": "apps/v1, Kind=Deployment: ERROR: <input>:1:7: undefined field "
                       "'replicas'\n | object.replicas > 1\n | ......^\n"}]}}
        assert "    - fieldRef: spec.validations[0].expression\n" in text
        _, status = status_when_observed(server, "tc-good", 1)
        assert status == {"observedGeneration": 1, "typeChecking": {}}
        # a spec change is a new generation, checked again
        server.kubectl("apply", "-f", "-", input=POLICY % ("tc-bad", "object.spec.replicas > 1"))
        _, status = status_when_observed(server, "tc-bad", 2)
        assert status == {"observedGeneration": 2, "typeChecking": {}}
    finally:
        server.kubectl("delete", "validatingadmissionpolicy", "tc-bad", "tc-good", check=False)
