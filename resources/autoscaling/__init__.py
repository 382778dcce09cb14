"""autoscaling/v1 and autoscaling/v2: HorizontalPodAutoscalers, one stored object served in
both versions.  ``KINDS`` lists its Strategy classes (the server installs the storage
version, v2, first by itself)."""

KINDS = (
    "resources.autoscaling.horizontalpodautoscalers.HorizontalPodAutoscalerStrategy",
    "resources.autoscaling.horizontalpodautoscalers.HorizontalPodAutoscalerV1Strategy",
)
