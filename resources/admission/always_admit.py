"""AlwaysAdmit (upstream kubernetes/kubernetes:plugin/pkg/admission/admit/admission.go).

Deprecated upstream: it admits every request in both phases and only logs, when it is
built, that it should be removed from the configuration.
"""
from __future__ import annotations

import logging

from apiserver.admission.base import Plugin

log = logging.getLogger(__name__)


class AlwaysAdmit(Plugin):
    name = "AlwaysAdmit"
    mutating = True
    validating = True

    def __init__(self):
        log.warning("%s admission controller is deprecated. Please remove this controller "
                    "from your configuration files and scripts.", self.name)

    def admit(self, attrs):
        """Nothing to change."""

    def validate(self, attrs):
        """Nothing to refuse."""
