"""certificates.k8s.io/v1 CertificateSigningRequest: a PKCS#10 request for a signer.

Three write paths, as upstream's three strategies
(kubernetes/kubernetes:pkg/registry/certificates/certificates/strategy.go):

* the main resource (``csrStrategy``): on create the requestor fields (username, uid,
  groups, extra) come from the authenticated user and the status starts empty; an update
  changes only metadata (spec and status are kept);
* ``/status`` (``csrStatusStrategy``): the signer's path; it may set ``status.certificate``
  (once) and conditions other than Approved/Denied;
* ``/approval`` (``csrApprovalStrategy``): ``kubectl certificate approve|deny``; it may
  change the conditions only, never the spec or the certificate.

Validation is in :mod:`resources.certificates.validation`; the in-process signer is
``resources/controllers/csrsigning.py``.  Table: upstream ``printCertificateSigningRequest``
(pkg/printers/internalversion/printers.go).
"""
from __future__ import annotations

import copy

from apiserver.registry.meta import now_rfc3339
from apiserver.registry.printers import age, human_duration
from apiserver.registry.strategy import AGE_COLUMN, NAME_COLUMN, STATUS, Strategy, Subresource
from resources.certificates import validation as v
from resources.core.columns import column

SPEC = "io.k8s.api.certificates.v1.CertificateSigningRequestSpec"
STATUS_DEF = "io.k8s.api.certificates.v1.CertificateSigningRequestStatus"
APPROVAL = Subresource("approval")


def condition_text(obj: dict) -> str:
    """Upstream ``extractCSRStatus``: Denied, Approved or Pending, then ,Failed and ,Issued."""
    types = {c.get("type") for c in v.conditions_of(obj)}
    text = "Denied" if v.DENIED in types else "Approved" if v.APPROVED in types else "Pending"
    if v.FAILED in types:
        text += ",Failed"
    if (obj.get("status") or {}).get("certificate"):
        text += ",Issued"
    return text


class CertificateSigningRequestStrategy(Strategy):
    group = "certificates.k8s.io"
    version = "v1"
    kind = "CertificateSigningRequest"
    plural = "certificatesigningrequests"
    namespaced = False
    short_names = ("csr",)
    subresources = (STATUS, APPROVAL)
    schema_name = "io.k8s.api.certificates.v1.CertificateSigningRequest"
    name_rule = "path"      # upstream ValidateCertificateRequestName accepts any name
    selectable_fields = {"spec.signerName": lambda o: v.spec_of(o).get("signerName", "")}
    columns = (NAME_COLUMN, AGE_COLUMN,
               column("SignerName", SPEC, "signerName"),
               column("Requestor", SPEC, "request"),
               column("RequestedDuration", SPEC, "expirationSeconds"),
               column("Condition", STATUS_DEF, "conditions"))

    # ---- create ---------------------------------------------------------------------------
    def prepare_for_create(self, ctx, obj):
        """The requestor is whoever sends the request: user-supplied username, uid, groups
        and extra are replaced by the request's user; nobody creates an approved request."""
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            spec = obj["spec"] = {}
        for key in ("username", "uid", "groups", "extra"):
            spec.pop(key, None)
        user = ctx.user if ctx is not None else None
        if user is not None:
            if user.name:
                spec["username"] = user.name
            if user.uid:
                spec["uid"] = user.uid
            if user.groups:
                spec["groups"] = list(user.groups)
            if user.extra:
                spec["extra"] = {k: list(vals) for k, vals in user.extra.items()}
        obj["status"] = {}

    def validate(self, ctx, obj):
        return v.validate_create(obj)

    # ---- main resource and /approval updates ------------------------------------------------
    def prepare_for_update(self, ctx, new, old):
        if ctx.subresource == APPROVAL.name:
            self._prepare_for_approval(new, old)
            return
        # the main resource changes metadata only: spec is immutable, status has its paths
        for key in ("spec", "status"):
            if key in old:
                new[key] = copy.deepcopy(old[key])
            else:
                new.pop(key, None)

    def _prepare_for_approval(self, new, old):
        """Upstream ``csrApprovalStrategy.PrepareForUpdate``: the new conditions (with their
        timestamps filled in) over the stored spec and the stored rest of the status."""
        v.populate_condition_timestamps(new, old, now_rfc3339())
        conditions = v.conditions_of(new)
        for key in list(new):
            if key not in ("metadata", "apiVersion", "kind"):
                del new[key]
        for key, value in old.items():
            if key != "metadata":
                new[key] = copy.deepcopy(value)
        status = new.setdefault("status", {})
        if conditions:
            status["conditions"] = conditions
        else:
            status.pop("conditions", None)

    def validate_update(self, ctx, new, old):
        if ctx.subresource == APPROVAL.name:
            return v.validate_approval_update(new, old)
        return v.validate_update(new, old)

    # ---- /status ----------------------------------------------------------------------------
    def prepare_for_status_update(self, ctx, new, old):
        """Upstream ``csrStatusStrategy.PrepareForUpdate``: the stored spec; the stored
        Approved/Denied conditions put back where the write kept as many of them (adding or
        removing them is refused by validation); timestamps filled in."""
        super().prepare_for_status_update(ctx, new, old)
        if not isinstance(new.get("status"), dict):
            new["status"] = {}
        v.preserve_condition_instances(new, old, v.APPROVED)
        v.preserve_condition_instances(new, old, v.DENIED)
        v.populate_condition_timestamps(new, old, now_rfc3339())

    def validate_status_update(self, ctx, new, old):
        return v.validate_status_update(new, old)

    # ---- table ------------------------------------------------------------------------------
    def table_row(self, obj):
        spec = v.spec_of(obj)
        seconds = spec.get("expirationSeconds")
        duration = human_duration(seconds) if isinstance(seconds, int) else "<none>"
        return [obj["metadata"].get("name", ""), age(obj), spec.get("signerName") or "<none>",
                spec.get("username", ""), duration, condition_text(obj)]
