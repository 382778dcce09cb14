"""HorizontalPodAutoscalers through kubectl 1.32: one object applied as autoscaling/v2, read
back as autoscaling/v1 (converted, with the round-trip annotations), printed with upstream's
columns, and discovered under the preferred version autoscaling/v2."""
from __future__ import annotations

import json

HPA_V2 = """
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: web
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: web
  minReplicas: 2
  maxReplicas: 10
  metrics:
  - type: Resource
    resource:
      name: memory
      target:
        type: AverageValue
        averageValue: 500Mi
  - type: Resource
    resource:
      name: cpu
      target:
        type: Utilization
        averageUtilization: 70
"""


def test_apply_v2_read_v1_and_print(kubectl, namespace):
    assert kubectl("apply", "-n", namespace, "-f", "-", input=HPA_V2).stdout.strip() == \
        "horizontalpodautoscaler.autoscaling/web created"
    assert kubectl("apply", "-n", namespace, "-f", "-", input=HPA_V2).stdout.strip() == \
        "horizontalpodautoscaler.autoscaling/web unchanged"

    # The full resource name: kubectl 1.32 expands a short name to group/resource only and
    # drops the version, so "hpa.v1.autoscaling" reads the preferred v2 on a real cluster too
    # (kubernetes/client-go:restmapper/shortcut.go expandResourceShortcut, release-1.32).
    v1 = json.loads(kubectl("get", "horizontalpodautoscalers.v1.autoscaling", "web", "-n", namespace,
                            "-o", "json").stdout)
    assert v1["apiVersion"] == "autoscaling/v1"
    assert v1["spec"] == {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                          "minReplicas": 2, "maxReplicas": 10, "targetCPUUtilizationPercentage": 70}
    assert v1["status"] == {"currentReplicas": 0, "desiredReplicas": 0}
    assert v1["metadata"]["annotations"]["autoscaling.alpha.kubernetes.io/metrics"] == (
        '[{"type":"Resource","resource":{"name":"memory","targetAverageValue":"500Mi"}}]')

    v2 = json.loads(kubectl("get", "hpa", "web", "-n", namespace, "-o", "json").stdout)
    assert v2["apiVersion"] == "autoscaling/v2"
    assert v2["status"] == {"currentMetrics": None, "desiredReplicas": 0}
    assert v2["metadata"]["resourceVersion"] == v1["metadata"]["resourceVersion"]
    assert "autoscaling.alpha.kubernetes.io/metrics" not in v2["metadata"].get("annotations", {})

    lines = kubectl("get", "hpa", "-n", namespace).stdout.splitlines()
    assert lines[0].split() == ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"]
    assert lines[1].split()[:-1] == ["web", "Deployment/web", "memory:", "<unknown>/500Mi,", "cpu:",
                                     "<unknown>/70%", "2", "10", "0"]


def test_edit_through_v1_keeps_the_v2_metrics(kubectl, namespace):
    kubectl("apply", "-n", namespace, "-f", "-", input=HPA_V2)
    kubectl("patch", "horizontalpodautoscalers.v1.autoscaling", "web", "-n", namespace, "--type=merge",
            "-p", '{"spec":{"targetCPUUtilizationPercentage":55}}')
    v2 = json.loads(kubectl("get", "hpa", "web", "-n", namespace, "-o", "json").stdout)
    assert [m["resource"]["name"] for m in v2["spec"]["metrics"]] == ["memory", "cpu"]
    assert v2["spec"]["metrics"][1]["resource"]["target"]["averageUtilization"] == 55


def test_kubectl_autoscale_and_discovery(kubectl, namespace):
    kubectl("create", "deployment", "api", "--image=nginx", "-n", namespace)
    # kubectl 1.32 autoscale POSTs an autoscaling/v1 object
    out = kubectl("autoscale", "deployment", "api", "--max=4", "--cpu-percent=60", "-n", namespace)
    assert out.stdout.strip() == "horizontalpodautoscaler.autoscaling/api autoscaled"
    row = kubectl("get", "hpa", "api", "-n", namespace, "--no-headers").stdout.split()
    assert row[:-1] == ["api", "Deployment/api", "cpu:", "<unknown>/60%", "1", "4", "0"]
    assert "horizontalpodautoscaler.autoscaling/api" in kubectl("get", "all", "-n", namespace).stdout
    described = kubectl("describe", "hpa", "api", "-n", namespace).stdout
    assert "resource cpu on pods  (as a percentage of request):  <unknown> / 60%" in described
    resources = kubectl("api-resources", "--api-group=autoscaling", "--no-headers").stdout.split()
    assert resources == ["horizontalpodautoscalers", "hpa", "autoscaling/v2", "true",
                         "HorizontalPodAutoscaler"]
