"""core/v1 PodTemplate.

Upstream: validation kubernetes/kubernetes:pkg/apis/core/validation/validation.go
(``ValidatePodTemplate``: ``ValidatePodTemplateSpec`` under ``template``), strategy
pkg/registry/core/podtemplate/strategy.go (generation 1 on create, bumped whenever the
template changes) and ``printPodTemplate`` in pkg/printers/internalversion/printers.go
(no Age column).  The template gets the PodSpec defaults (``resources.podtemplate``).
"""
from __future__ import annotations

from apiserver.registry.strategy import NAME_COLUMN, Column, Strategy
from resources import podtemplate as pt


class PodTemplateStrategy(Strategy):
    kind = "PodTemplate"
    plural = "podtemplates"
    schema_name = "io.k8s.api.core.v1.PodTemplate"
    tracks_generation = True
    columns = (NAME_COLUMN,
               Column("Containers", description="Names of each container in the template."),
               Column("Images", description="Images referenced by each container in the template."),
               Column("Pod Labels", description="The labels for the pod template."))

    def default(self, obj):
        # Go always writes the (non-pointer) template, so it is never missing
        template = obj.get("template")
        if not isinstance(template, dict):
            template = obj["template"] = {}
        pt.default_pod_template(template)

    def validate(self, ctx, obj):
        return pt.validate_pod_template(obj.get("template"), "template")

    def table_row(self, obj):
        template = obj.get("template") or {}
        names, images = pt.container_cells(template)
        labels = (template.get("metadata") or {}).get("labels")
        return [obj["metadata"]["name"], names, images, pt.format_labels(labels)]
