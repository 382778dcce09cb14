"""The root CA certificate publisher: every namespace gets the ConfigMap
``kube-root-ca.crt`` holding the cluster CA (the one clients verify the server with), and it
comes back when deleted or edited.  The session server's manager leaves this controller out
(conftest); this module runs it alone in a manager of its own, with ``up``'s
``--root-ca-file`` left to its default (the kubeconfig's CA)."""
from __future__ import annotations

import json

import pytest

from controller_support import controller_manager, wait_for


@pytest.fixture(scope="module", autouse=True)
def publisher(server):
    with controller_manager(server, "--controllers", "root-ca-certificate-publisher",
                            log_name="root-ca-publisher.log") as proc:
        yield proc

DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using "
               "internal endpoints such as the internal service IP or kubernetes.default.svc. "
               "No other usage is guaranteed across distributions of Kubernetes clusters.")


def _wait(predicate, timeout=20.0):
    return wait_for(predicate, timeout)


def _root_ca(server, namespace):
    status, _, body = server.request(
        "GET", f"/api/v1/namespaces/{namespace}/configmaps/kube-root-ca.crt")
    return json.loads(body) if status == 200 else None


def test_every_namespace_gets_the_cluster_ca_and_keeps_it(server, kubectl, namespace):
    ca = server.ca.read_text()
    cm = _wait(lambda: _root_ca(server, namespace))
    assert cm, "no kube-root-ca.crt in a new namespace"
    assert cm["data"] == {"ca.crt": ca}
    assert cm["metadata"]["annotations"]["kubernetes.io/description"] == DESCRIPTION
    # the namespaces that existed before also have it
    for ns in ("default", "kube-system", "kube-public"):
        assert (_root_ca(server, ns) or {}).get("data") == {"ca.crt": ca}, ns

    # deleted: recreated (a new object)
    kubectl("-n", namespace, "delete", "configmap", "kube-root-ca.crt")
    again = _wait(lambda: (c := _root_ca(server, namespace)) and
                  c["metadata"]["uid"] != cm["metadata"]["uid"] and c)
    assert again and again["data"] == {"ca.crt": ca}

    # edited: the data and the description are restored, a label someone added stays
    kubectl("-n", namespace, "patch", "configmap", "kube-root-ca.crt", "--type=merge", "-p",
            json.dumps({"metadata": {"labels": {"team": "x"}, "annotations": {
                "kubernetes.io/description": None}},
                "data": {"ca.crt": "not a CA", "extra": "1"}}))
    restored = _wait(lambda: (c := _root_ca(server, namespace)) and
                     c["data"] == {"ca.crt": ca} and c)
    assert restored, _root_ca(server, namespace)
    assert restored["metadata"]["annotations"]["kubernetes.io/description"] == DESCRIPTION
    assert restored["metadata"]["labels"] == {"team": "x"}


def test_a_pods_service_account_volume_projects_the_published_configmap(server, kubectl,
                                                                       namespace):
    _wait(lambda: _root_ca(server, namespace))
    _wait(lambda: server.request("GET", f"/api/v1/namespaces/{namespace}/serviceaccounts/"
                                 "default")[0] == 200)
    kubectl("-n", namespace, "run", "p", "--image=nginx")
    pod = json.loads(kubectl("-n", namespace, "get", "pod", "p", "-o", "json").stdout)
    volume = next(v for v in pod["spec"]["volumes"]
                  if v["name"].startswith("kube-api-access-"))
    sources = {k: s[k] for s in volume["projected"]["sources"] for k in s}
    assert sources["configMap"] == {"name": "kube-root-ca.crt",
                                    "items": [{"key": "ca.crt", "path": "ca.crt"}]}
