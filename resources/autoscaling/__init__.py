"""autoscaling/v1 and autoscaling/v2: HorizontalPodAutoscalers, one stored object served in
both versions.  ``KINDS`` lists its Strategy classes."""

KINDS = ()
