"""ClusterTrustBundleAttest (upstream kubernetes/kubernetes:
plugin/pkg/admission/certificates/ctbattest/admission.go).

Upstream this plugin checks that a user creating or updating a
``certificates.k8s.io/v1alpha1`` ClusterTrustBundle with a ``signerName`` may ``attest``
for that signer.  It is in 1.32's default plugin set, but its ``InspectFeatureGates`` turns
it off unless the alpha ClusterTrustBundle gate is on, and with the gate off the kind is not
served either.  This server serves no alpha APIs and has no feature gates, so the plugin is
registered under its name (so ``--enable-admission-plugins`` and
``--disable-admission-plugins`` accept it, as upstream) and does what upstream's does with
the default gates: nothing.
"""
from __future__ import annotations

from apiserver.admission.base import Plugin


class ClusterTrustBundleAttest(Plugin):
    name = "ClusterTrustBundleAttest"
    validating = True

    def validate(self, attrs):
        """ClusterTrustBundle is not served (alpha, gate off): nothing reaches this plugin
        that it would check."""
