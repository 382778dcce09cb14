"""The generic battery for certificates.k8s.io/v1 CertificateSigningRequest."""
from __future__ import annotations

import pytest

from apiserver.runtime import errors
from tests.resources.battery.base import KindBattery
from tests.resources.battery.test_core import _set
from tests.resources.certificates.support import csr_object, csr_pem


class TestCertificateSigningRequest(KindBattery):
    group, resource = "certificates.k8s.io", "certificatesigningrequests"

    def valid(self, name):
        return csr_object(name, csr_pem("battery", ("battery",)))

    def invalid(self):
        v = self.valid
        return [(_set(v("no-request"), "spec.request", None), "spec.request"),
                (_set(v("no-usages"), "spec.usages", []), "spec.usages"),
                (_set(v("bad-usage"), "spec.usages", ["flying"]), "spec.usages[0]"),
                (_set(v("no-signer"), "spec.signerName", ""), "spec.signerName"),
                (_set(v("one-label"), "spec.signerName", "signer/x"), "spec.signerName"),
                (_set(v("too-short"), "spec.expirationSeconds", 60), "spec.expirationSeconds")]

    def test_invalid_message_is_upstreams(self, store, ctx):
        with pytest.raises(errors.Invalid) as exc:
            store.create(None, _set(self.valid("short"), "spec.expirationSeconds", 60), ctx)
        assert exc.value.message == (
            'CertificateSigningRequest.certificates.k8s.io "short" is invalid: '
            'spec.expirationSeconds: Invalid value: 60: may not specify a duration less than '
            '600 seconds (10 minutes)')
