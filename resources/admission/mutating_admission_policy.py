"""MutatingAdmissionPolicy (upstream k8s.io/apiserver
pkg/admission/plugin/policy/mutating/plugin.go), new in 1.32.

It applies ``admissionregistration.k8s.io/v1alpha1`` MutatingAdmissionPolicies.  1.32 lists
it among the default plugins, but its ``InspectFeatureGates`` leaves it disabled unless the
alpha MutatingAdmissionPolicy gate is on, and the v1alpha1 kinds are not served without
it.  This server serves no alpha APIs and has no feature gates, so the plugin is registered
under its upstream name (the enable/disable flags accept it) and behaves as upstream's does
with the default gates: it changes nothing.
"""
from __future__ import annotations

from apiserver.admission.base import Plugin


class MutatingAdmissionPolicy(Plugin):
    name = "MutatingAdmissionPolicy"
    mutating = True

    def admit(self, attrs):
        """No MutatingAdmissionPolicy can exist (v1alpha1 is not served): nothing to apply."""
