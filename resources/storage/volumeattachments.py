"""storage.k8s.io/v1 VolumeAttachment (cluster-scoped, with /status): the request to
attach one volume to one node, written by the attach/detach controller, answered by the
CSI external-attacher through /status.

Upstream: ``ValidateVolumeAttachment``, ``ValidateVolumeAttachmentV1`` (create only) and
``ValidateVolumeAttachmentUpdate`` (kubernetes/kubernetes:pkg/apis/storage/validation/validation.go),
kubernetes/kubernetes:pkg/registry/storage/volumeattachment/strategy.go (status reset on
create, spec kept on status writes, the status strategy validates like the main one) and
``printVolumeAttachment`` (kubernetes/kubernetes:pkg/printers/internalversion/printers.go).
"""
from __future__ import annotations

import json

from apiserver.registry.printers import age
from apiserver.registry.strategy import AGE_COLUMN, NAME_COLUMN, STATUS, Strategy
from apiserver.runtime import errors
from apiserver.runtime.validation import FIELD_IMMUTABLE, GoText, is_dns1123_subdomain
from resources.core.columns import column
from resources.storage.validation import too_long, validate_csi_driver_name, validate_inline_pv_spec

_SPEC = "io.k8s.api.storage.v1.VolumeAttachmentSpec"
MAX_METADATA_BYTES = 256 * 1024
MAX_ERROR_MESSAGE = 1024
EXACTLY_ONE = "must specify exactly one of inlineVolumeSpec and persistentVolumeName"


class VolumeAttachmentStrategy(Strategy):
    group = "storage.k8s.io"
    kind = "VolumeAttachment"
    plural = "volumeattachments"
    namespaced = False
    subresources = (STATUS,)
    schema_name = "io.k8s.api.storage.v1.VolumeAttachment"
    allow_unconditional_update = False
    columns = (NAME_COLUMN,
               column("Attacher", _SPEC, "attacher", format="name"),
               column("PV", "io.k8s.api.storage.v1.VolumeAttachmentSource", "persistentVolumeName"),
               column("Node", _SPEC, "nodeName"),
               column("Attached", "io.k8s.api.storage.v1.VolumeAttachmentStatus", "attached",
                      type="boolean"),
               AGE_COLUMN)

    def default(self, obj):
        """``spec`` and ``spec.source`` are structs Go always writes; an inline volume spec
        gets ``SetDefaults_PersistentVolumeSpec`` (volumeMode Filesystem)."""
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            spec = obj["spec"] = {}
        source = spec.get("source")
        if not isinstance(source, dict):
            source = spec["source"] = {}
        inline = source.get("inlineVolumeSpec")
        if isinstance(inline, dict) and inline.get("volumeMode") is None:
            inline["volumeMode"] = "Filesystem"

    def prepare_for_create(self, ctx, obj):
        """Status is the attacher's: a new attachment starts unattached (Go writes the
        non-omitempty ``attached: false``)."""
        obj["status"] = {"attached": False}

    def validate(self, ctx, obj):
        """``ValidateVolumeAttachment`` plus the stricter v1 create checks: the attacher is
        a CSI driver name and a persistent volume name a DNS subdomain."""
        spec = obj.get("spec") or {}
        errs = validate_volume_attachment(obj)
        attacher = spec.get("attacher") or ""
        if attacher:   # an empty attacher is already reported as required
            errs += validate_csi_driver_name(attacher, "spec.attacher")
        pv_name = (spec.get("source") or {}).get("persistentVolumeName")
        if pv_name:
            errs += [errors.invalid("spec.source.persistentVolumeName", pv_name, m)
                     for m in is_dns1123_subdomain(pv_name)]
        return errs

    def validate_update(self, ctx, new, old):
        """``ValidateVolumeAttachmentUpdate``: the spec is read-only."""
        errs = validate_volume_attachment(new)
        if new.get("spec") != old.get("spec"):
            errs.append(errors.invalid("spec", _go_spec(new.get("spec") or {}), FIELD_IMMUTABLE))
        return errs

    def validate_status_update(self, ctx, new, old):
        """The status strategy inherits the main ValidateUpdate."""
        return self.validate_update(ctx, new, old)

    def table_row(self, obj):
        spec = obj.get("spec") or {}
        return [obj["metadata"]["name"], spec.get("attacher") or "",
                (spec.get("source") or {}).get("persistentVolumeName") or "",
                spec.get("nodeName") or "", bool((obj.get("status") or {}).get("attached")),
                age(obj)]


def validate_volume_attachment(obj: dict) -> list:
    """``ValidateVolumeAttachment`` without ObjectMeta: spec and status."""
    spec = obj.get("spec") or {}
    errs = [] if spec.get("attacher") else [errors.required("spec.attacher")]
    errs += _validate_source(spec.get("source") or {})
    node = spec.get("nodeName") or ""
    errs += [errors.invalid("spec.nodeName", node, m) for m in is_dns1123_subdomain(node)]
    errs += _validate_status(obj.get("status") or {})
    return errs


def _validate_source(source: dict) -> list:
    pv_name, inline = source.get("persistentVolumeName"), source.get("inlineVolumeSpec")
    if pv_name is None and inline is None:
        return [errors.required("spec.source", EXACTLY_ONE)]
    if pv_name is not None and inline is not None:
        return [errors.forbidden("spec.source", EXACTLY_ONE)]
    if pv_name is not None:
        return [] if pv_name else [errors.required("spec.source.persistentVolumeName",
                                                   "must specify non empty persistentVolumeName")]
    return validate_inline_pv_spec(inline if isinstance(inline, dict) else {},
                                   "spec.source.inlineVolumeSpec")


def _validate_status(status: dict) -> list:
    """``validateVolumeAttachmentStatus``: bounded attachment metadata and error messages
    (upstream reports an overlong message with the metadata limit)."""
    errs = []
    metadata = status.get("attachmentMetadata") or {}
    if sum(len(str(k).encode()) + len(str(v).encode()) for k, v in metadata.items()) > MAX_METADATA_BYTES:
        errs.append(too_long("status.attachmentMetadata", MAX_METADATA_BYTES))
    for key in ("attachError", "detachError"):
        message = (status.get(key) or {}).get("message") or ""
        if len(message.encode()) > MAX_ERROR_MESSAGE:
            errs.append(too_long(f"status.{key}.message", MAX_METADATA_BYTES))
    return errs


def _go_spec(spec: dict) -> GoText:
    """Go ``%#v`` of a ``storage.VolumeAttachmentSpec`` (pointers print as addresses
    upstream; we show the pointed-to name instead)."""
    source = spec.get("source") or {}
    pv = source.get("persistentVolumeName")
    shown_pv = "(*string)(nil)" if pv is None else f"&{json.dumps(pv)}"
    shown_inline = "(*core.PersistentVolumeSpec)(nil)" if source.get("inlineVolumeSpec") is None \
        else "&core.PersistentVolumeSpec{...}"
    return GoText(f'storage.VolumeAttachmentSpec{{Attacher:{json.dumps(spec.get("attacher") or "")}, '
                  f"Source:storage.VolumeAttachmentSource{{PersistentVolumeName:{shown_pv}, "
                  f"InlineVolumeSpec:{shown_inline}}}, "
                  f'NodeName:{json.dumps(spec.get("nodeName") or "")}}}')
