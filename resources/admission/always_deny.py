"""AlwaysDeny (upstream kubernetes/kubernetes:plugin/pkg/admission/deny/admission.go).

Deprecated upstream: every operation (create, update, delete, connect) is refused in both
phases with ``<resource> "<name>" is forbidden: admission control is denying all
modifications`` (``admission.NewForbidden``).  Reads never reach admission.
"""
from __future__ import annotations

import logging

from apiserver.admission.base import Plugin
from resources.admission.refusals import new_forbidden

log = logging.getLogger(__name__)

MESSAGE = "admission control is denying all modifications"


class AlwaysDeny(Plugin):
    name = "AlwaysDeny"
    mutating = True
    validating = True

    def __init__(self):
        log.warning("%s admission controller is deprecated. Please remove this controller "
                    "from your configuration files and scripts.", self.name)

    def admit(self, attrs):
        raise new_forbidden(attrs, MESSAGE)

    def validate(self, attrs):
        raise new_forbidden(attrs, MESSAGE)
