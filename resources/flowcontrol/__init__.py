"""flowcontrol.apiserver.k8s.io/v1: FlowSchemas and PriorityLevelConfigurations, with
upstream's mandatory and suggested objects created at start.  ``KINDS`` lists its Strategy
classes."""

KINDS = (
    "resources.flowcontrol.flowschemas.FlowSchemaStrategy",
    "resources.flowcontrol.prioritylevelconfigurations.PriorityLevelConfigurationStrategy",
)
