"""DenyServiceExternalIPs (upstream kubernetes/kubernetes:plugin/pkg/admission/denyserviceexternalips/admission.go).

Validating, on create and update of Services (not their subresources): a Service may not
gain ``spec.externalIPs``.  A Service without external IPs passes, and an update passes
when every external IP it lists was already on the old Service (removing some is fine);
anything else is ``services "<name>" is forbidden: use of external IPs is denied by
admission control``.
"""
from __future__ import annotations

from apiserver.admission.base import Plugin
from resources.admission.refusals import new_forbidden

MESSAGE = "use of external IPs is denied by admission control"


def _external_ips(service) -> list:
    spec = (service or {}).get("spec") if isinstance(service, dict) else None
    ips = (spec or {}).get("externalIPs") if isinstance(spec, dict) else None
    return ips if isinstance(ips, list) else []


class DenyServiceExternalIPs(Plugin):
    name = "DenyServiceExternalIPs"
    validating = True

    def handles(self, operation: str) -> bool:
        return operation in ("CREATE", "UPDATE")

    def validate(self, attrs):
        if attrs.group != "" or attrs.resource != "services" or attrs.subresource:
            return
        new_ips = _external_ips(attrs.obj)
        if not new_ips:
            return
        if attrs.old is not None:
            old_ips = set(_external_ips(attrs.old))
            if all(ip in old_ips for ip in new_ips):
                return
        raise new_forbidden(attrs, MESSAGE)
