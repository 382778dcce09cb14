"""ValidatingAdmissionPolicy end to end: kubectl applies a policy and binding, a deployment
with too many replicas is refused with upstream's message, Warn gives kubectl's Warning."""
from __future__ import annotations

POLICY = """\
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: replicas-limit}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - apiGroups: [apps]
      apiVersions: [v1]
      operations: [CREATE, UPDATE]
      resources: [deployments]
  validations:
  - expression: "object.spec.replicas <= 5"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: replicas-limit-b}
spec:
  policyName: replicas-limit
  validationActions: [%s]
"""


def deployment(ns, name, replicas):
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: {ns}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec: {{containers: [{{name: c, image: busybox}}]}}
"""


def test_policy_denies_then_warns(server, namespace):
    server.kubectl("apply", "-f", "-", input=POLICY % "Deny")
    try:
        out = server.kubectl("apply", "-f", "-", input=deployment(namespace, "big", 6),
                             check=False)
        assert out.returncode != 0
        # kubectl prints a 422 with its causes, as against kube-apiserver
        assert out.stderr.strip() == (
            'The deployments "big" is invalid: : ValidatingAdmissionPolicy \'replicas-limit\' '
            "with binding 'replicas-limit-b' denied request: failed expression: "
            "object.spec.replicas <= 5")
        server.kubectl("apply", "-f", "-", input=POLICY % "Warn")
        out = server.kubectl("apply", "-f", "-", input=deployment(namespace, "big", 6))
        assert "Warning: Validation failed for ValidatingAdmissionPolicy 'replicas-limit'" \
            in out.stderr
    finally:
        server.kubectl("delete", "validatingadmissionpolicybinding", "replicas-limit-b",
                       check=False)
        server.kubectl("delete", "validatingadmissionpolicy", "replicas-limit", check=False)
