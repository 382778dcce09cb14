"""A real CSR, end to end: created with kubectl, approved with ``kubectl certificate approve``
(a PUT to .../approval), signed by the in-process csrsigning controller from the data dir's
CA, and the issued client certificate then authenticates to the server as its subject."""
from __future__ import annotations

import base64
import json
import ssl
import time
import uuid

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SIGNER = "kubernetes.io/kube-apiserver-client"


def _request(cn: str, org: str):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
                         x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return key_pem, csr.public_bytes(serialization.Encoding.PEM)


def _kubeconfig(server, cert_pem: bytes, key_pem: bytes) -> str:
    b64 = lambda data: base64.b64encode(data).decode()  # noqa: E731
    return json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "alice",
        "clusters": [{"name": "e2e", "cluster": {
            "server": server.url, "certificate-authority-data": b64(server.ca.read_bytes())}}],
        "users": [{"name": "alice", "user": {"client-certificate-data": b64(cert_pem),
                                             "client-key-data": b64(key_pem)}}],
        "contexts": [{"name": "alice", "context": {"cluster": "e2e", "user": "alice"}}]})


def test_approved_csr_is_issued_and_authenticates(server, kubectl, tmp_path):
    name = f"alice-{uuid.uuid4().hex[:8]}"
    key_pem, csr_pem = _request("alice", "devs")
    manifest = {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
                "metadata": {"name": name},
                "spec": {"request": base64.b64encode(csr_pem).decode(), "signerName": SIGNER,
                         "usages": ["client auth"], "expirationSeconds": 3600}}
    kubectl("create", "-f", "-", input=json.dumps(manifest))
    listed = kubectl("get", "csr", name).stdout
    assert listed.split("\n")[0].split() == ["NAME", "AGE", "SIGNERNAME", "REQUESTOR",
                                             "REQUESTEDDURATION", "CONDITION"]
    assert listed.split("\n")[1].split()[2:] == [SIGNER, "kubernetes-admin", "60m", "Pending"]

    out = kubectl("certificate", "approve", name)
    assert f"certificatesigningrequest.certificates.k8s.io/{name} approved" in out.stdout

    deadline = time.monotonic() + 30
    while True:
        obj = server.get_json(f"/apis/certificates.k8s.io/v1/certificatesigningrequests/{name}")
        if (obj.get("status") or {}).get("certificate"):
            break
        assert time.monotonic() < deadline, f"no certificate within 30 s: {obj.get('status')}"
        time.sleep(0.2)
    assert obj["spec"]["username"] == "kubernetes-admin"
    [approval] = obj["status"]["conditions"]
    assert approval["type"] == "Approved" and approval["reason"] == "KubectlApprove"
    cert_pem = base64.b64decode(obj["status"]["certificate"])
    cert = x509.load_pem_x509_certificate(cert_pem)
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(server.ca.read_bytes()))
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "alice"
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) \
        == [ExtendedKeyUsageOID.CLIENT_AUTH]
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert 3600 <= lifetime.total_seconds() <= 3600 + 6 * 60
    assert kubectl("get", "csr", name).stdout.split("\n")[1].split()[-1] == "Approved,Issued"

    # the new certificate is a working credential for alice (group devs)
    cert_file, key_file = tmp_path / "alice.crt", tmp_path / "alice.key"
    cert_file.write_bytes(cert_pem)
    key_file.write_bytes(key_pem)
    context = ssl.create_default_context(cafile=str(server.ca))
    context.load_cert_chain(str(cert_file), str(key_file))
    conn = __import__("http.client").client.HTTPSConnection(server.host, server.port, timeout=30,
                                                            context=context)
    try:
        review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
        conn.request("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                     body=json.dumps(review), headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        body = json.loads(resp.read())
    finally:
        conn.close()
    assert resp.status == 201, body
    info = body["status"]["userInfo"]
    assert info["username"] == "alice" and "devs" in info["groups"]

    kubeconfig = tmp_path / "alice.kubeconfig"
    kubeconfig.write_text(_kubeconfig(server, cert_pem, key_pem))
    whoami = json.loads(kubectl("--kubeconfig", str(kubeconfig), "auth", "whoami",
                                "-o", "json").stdout)
    assert whoami["status"]["userInfo"]["username"] == "alice"


def test_denied_csr_is_not_issued(server, kubectl):
    name = f"mallory-{uuid.uuid4().hex[:8]}"
    _, csr_pem = _request("mallory", "devs")
    manifest = {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
                "metadata": {"name": name},
                "spec": {"request": base64.b64encode(csr_pem).decode(), "signerName": SIGNER,
                         "usages": ["client auth"]}}
    kubectl("create", "-f", "-", input=json.dumps(manifest))
    kubectl("certificate", "deny", name)
    time.sleep(1.5)                                    # more than one controller pass
    obj = server.get_json(f"/apis/certificates.k8s.io/v1/certificatesigningrequests/{name}")
    assert [c["type"] for c in obj["status"]["conditions"]] == ["Denied"]
    assert "certificate" not in obj["status"]
    assert kubectl("get", "csr", name).stdout.split("\n")[1].split()[-1] == "Denied"
    # kubectl will not approve a denied request, and neither will the server
    cp = kubectl("certificate", "approve", name, check=False)
    assert cp.returncode != 0 and "is already Denied" in cp.stderr
    obj["status"]["conditions"].append({"type": "Approved", "status": "True", "reason": "Sneaky"})
    status, _, data = server.request(
        "PUT", f"/apis/certificates.k8s.io/v1/certificatesigningrequests/{name}/approval", body=obj)
    assert status == 422, data
    assert b"Approved and Denied conditions are mutually exclusive" in data
