"""The root CA publisher (workers/controllers/rootcacertpublisher.py) against in-memory
informers and a recording client, and where its CA comes from."""
from __future__ import annotations

import asyncio

import pytest

from apiserver.client import ApiError, ClientConfig
from workers.controllers.manager import CONTROLLERS, parse_args
from workers.controllers.rootcacertpublisher import (DESCRIPTION, DESCRIPTION_ANNOTATION,
                                                     RootCACertPublisher, root_ca_bundle)

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


class FakeInformer:
    def __init__(self):
        self.cache = {}

    def get(self, name, namespace=None):
        return self.cache.get(f"{namespace}/{name}" if namespace else name)


class FakeInformers:
    def __init__(self):
        self.by_path = {}

    def add_handler(self, path, fn):
        return self.by_path.setdefault(path, FakeInformer())


class FakeClient:
    def __init__(self, fail=None):
        self.calls, self.fail = [], fail

    async def create(self, path, obj, params=None):
        self.calls.append(("create", path, obj))
        if self.fail:
            raise self.fail
        return obj

    async def update(self, path, obj, params=None):
        self.calls.append(("update", path, obj))
        return obj


def publisher(fail=None):
    informers = FakeInformers()
    return RootCACertPublisher(FakeClient(fail), informers, None, PEM.encode()), informers


def test_a_missing_configmap_is_created_with_the_ca_and_description():
    p, _ = publisher()
    asyncio.run(p.sync("team-a"))
    (verb, path, body), = p.client.calls
    assert (verb, path) == ("create", "/api/v1/namespaces/team-a/configmaps")
    assert body["metadata"] == {"name": "kube-root-ca.crt",
                                "annotations": {DESCRIPTION_ANNOTATION: DESCRIPTION}}
    assert body["data"] == {"ca.crt": PEM}


def test_a_terminating_namespace_is_not_retried_but_other_errors_are():
    terminating = ApiError(403, "Forbidden", "namespace is being terminated", {
        "kind": "Status", "details": {"causes": [{"reason": "NamespaceTerminating"}]}})
    p, _ = publisher(terminating)
    asyncio.run(p.sync("going"))                          # no exception: dropped
    p, _ = publisher(ApiError(500, "InternalError", "boom"))
    with pytest.raises(ApiError):
        asyncio.run(p.sync("ns"))


def test_drifted_data_or_description_is_restored_and_other_metadata_kept():
    p, inf = publisher()
    cms = inf.by_path["/api/v1/configmaps"]
    good = {"metadata": {"name": "kube-root-ca.crt", "namespace": "a", "labels": {"x": "1"},
                         "annotations": {DESCRIPTION_ANNOTATION: DESCRIPTION}},
            "data": {"ca.crt": PEM}}
    cms.cache["a/kube-root-ca.crt"] = good
    asyncio.run(p.sync("a"))
    assert p.client.calls == []                           # nothing to do
    cms.cache["a/kube-root-ca.crt"] = dict(good, data={"ca.crt": "x", "more": "y"})
    asyncio.run(p.sync("a"))
    (verb, path, body), = p.client.calls
    assert (verb, path) == ("update", "/api/v1/namespaces/a/configmaps/kube-root-ca.crt")
    assert body["data"] == {"ca.crt": PEM} and body["metadata"]["labels"] == {"x": "1"}


def test_events_that_enqueue_a_namespace():
    p, _ = publisher()
    cm = {"metadata": {"name": "kube-root-ca.crt", "namespace": "a"}}
    p._on_configmap("ADDED", cm, None)                    # its own create: ignored
    p._on_configmap("MODIFIED", {"metadata": {"name": "other", "namespace": "b"}}, None)
    assert len(p.queue) == 0
    p._on_configmap("DELETED", cm, None)
    p._on_namespace("MODIFIED", {"metadata": {"name": "t"}, "status": {"phase": "Terminating"}},
                    None)
    p._on_namespace("ADDED", {"metadata": {"name": "n"}, "status": {"phase": "Active"}}, None)
    assert len(p.queue) == 2


def test_the_ca_comes_from_the_flag_else_the_kubeconfig(tmp_path):
    config = ClientConfig(server="https://x", ca_data=b"from-kubeconfig")
    assert root_ca_bundle(None, config) == b"from-kubeconfig"
    ca_file = tmp_path / "ca.crt"
    ca_file.write_text(PEM)
    assert root_ca_bundle(str(ca_file), config) == PEM.encode()
    assert root_ca_bundle(None, ClientConfig(server="https://x", ca_file=str(ca_file))) == \
        PEM.encode()
    (tmp_path / "bad").write_text("nope")
    with pytest.raises(SystemExit, match="error parsing root-ca-file"):
        root_ca_bundle(str(tmp_path / "bad"), config)
    args = parse_args(["--kubeconfig", "k", "--root-ca-file", str(ca_file)])
    assert args.root_ca_file == str(ca_file)
    assert "root-ca-certificate-publisher" in CONTROLLERS
