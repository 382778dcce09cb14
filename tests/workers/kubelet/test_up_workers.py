"""``up --nodes N``'s worker set-up: identities, kubeconfigs and child command lines."""
from __future__ import annotations

import yaml
from cryptography import x509

from apiserver.management.commands.up import worker_children
from apiserver.pki import PKI


def subject(path):
    return x509.load_pem_x509_certificate(path.read_bytes()).subject.rfc4514_string()


def test_kubelets_get_node_identities_and_are_grouped(tmp_path):
    pki = PKI(tmp_path).ensure()
    children = worker_children(tmp_path, pki, "https://127.0.0.1:6443", 3, 2, "simulated",
                               ["--lease-renew-interval=2"])
    kubelets = [c for c in children if c.name.startswith("kubelet")]
    assert [c.name for c in kubelets] == ["kubelet node-1..node-2", "kubelet node-3"]
    first = kubelets[0].argv
    assert first[1:3] == ["-m", "workers.kubelet"]
    assert first[first.index("--kubeconfig") + 1] == str(tmp_path / "kubelets/{node}.kubeconfig")
    assert [first[i + 1] for i, a in enumerate(first) if a == "--node-name"] == ["node-1", "node-2"]
    assert [first[i + 1] for i, a in enumerate(first) if a == "--pod-cidr"] == [
        "10.244.0.0/24", "10.244.1.0/24"]
    assert first[-1] == "--lease-renew-interval=2"
    second = kubelets[1].argv
    assert second[second.index("--pod-cidr") + 1] == "10.244.2.0/24"
    assert second[second.index("--port") + 1] == "0"
    assert second[second.index("--tls-cert-file") + 1] == str(
        tmp_path / "pki/kubelet-serving-{node}.crt")
    assert subject(tmp_path / "pki/kubelet-node-3.crt") == "CN=system:node:node-3,O=system:nodes"
    cfg = yaml.safe_load((tmp_path / "kubelets/node-3.kubeconfig").read_text())
    assert cfg["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:6443"
    assert cfg["users"][0]["name"] == "system:node:node-3"
    assert (tmp_path / "kubelets/node-3.kubeconfig").stat().st_mode & 0o777 == 0o600


def test_client_certificates_are_reused(tmp_path):
    pki = PKI(tmp_path).ensure()
    cert, _ = pki.ensure_client("scheduler", "system:kube-scheduler")
    before = cert.read_bytes()
    assert pki.ensure_client("scheduler", "system:kube-scheduler")[0].read_bytes() == before
    assert subject(cert) == "CN=system:kube-scheduler"
