"""The server chain, admission plugin resolution and the Django bridge, in-process.

Upstream: kubernetes/kubernetes:cmd/kube-apiserver/app/server.go ``CreateServerChain``
(aggregator → kube → apiextensions → NotFound), kubernetes/apiserver:pkg/admission/plugins.go
and pkg/server/options/admission.go (plugin names), and the ``MaxRequestBodyBytes`` limit of
kubernetes/apiserver:pkg/server/config.go (3 MiB, enforced while the body is read).
"""
import asyncio

import orjson
import pytest
from django.db import connections

from apiserver.admission import base as admission_base
from apiserver.admission.base import ORDER, resolve
from apiserver.options import Options
from apiserver.registry.strategy import Strategy
from apiserver.runtime.scheme import Scheme, scheme as registered_kinds
from apiserver.server import bridge
from apiserver.server.config import Config
from apiserver.server.generic import NotFoundHandler
from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import MASTERS, ASGIClient, InlineExecutor

AGG_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
NOT_FOUND = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
             "message": "the server could not find the requested resource",
             "reason": "NotFound", "code": 404}


class GadgetStrategy(Strategy):
    """A throwaway kind in the extensions server's group."""

    group = "apiextensions.k8s.io"
    kind = "TestGadget"
    plural = "testgadgets"
    namespaced = False


class RelayStrategy(Strategy):
    """A throwaway kind in the aggregator's group."""

    group = "apiregistration.k8s.io"
    kind = "TestRelay"
    plural = "testrelays"
    namespaced = False


def scheme_with(*extra) -> Scheme:
    """Every registered kind plus ``extra``, in a Scheme of the test's own."""
    s = Scheme()
    for strategy in registered_kinds.all():
        s.add(type(strategy)(), group_priority=registered_kinds.priority(strategy.group))
    for cls in extra:
        s.register(cls)
    return s


async def raw_call(app, method, path, messages, subject=MASTERS, headers=()):
    """One ASGI request whose body arrives as ``messages``; returns (scope, sent, reads)."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "scheme": "https", "path": path, "raw_path": path.encode(),
             "query_string": b"", "headers": [(k.encode(), v.encode()) for k, v in headers],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 6443),
             "extensions": {"tls": {"k8s.subject": subject,
                                    "k8s.verified_by": frozenset({"client-ca"})}}}
    pending, sent, reads = list(messages), [], []

    async def receive():
        reads.append(1)
        if pending:
            return pending.pop(0)
        await asyncio.sleep(3600)

    async def send(message):
        sent.append(message)
    await asyncio.wait_for(app(scope, receive, send), 10)
    return scope, sent, len(reads)


def run(app, method, path, messages=({"type": "http.request", "body": b""},), **kw):
    return asyncio.run(raw_call(app, method, path, list(messages), **kw))


def status_of(sent):
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], orjson.loads(body)


@pytest.fixture
def bind(db, monkeypatch):
    """Views run inline on the event loop's thread (tests.asgi.InlineExecutor), where Django's
    thread-critical connection storage would open a second connection outside the test's
    transaction: bind the test's own (and keep the bridge from closing it)."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    monkeypatch.setattr(bridge, "close_old_connections", lambda: None)
    ensure_revision_row()
    conn = connections["default"]

    def wrap(app):
        def bound(scope, receive, send):
            connections["default"] = conn
            return app(scope, receive, send)
        return bound
    return wrap


@pytest.fixture
def built(bind):
    """(head of the server chain, app) with a throwaway kind for the extensions server and
    one for the aggregator, registered in a Scheme of the test's own."""
    from apiserver.server.handler_chain import build_handler_chain
    from tests.conftest import build_server

    completed, head = build_server(scheme=scheme_with(GadgetStrategy, RelayStrategy),
                                   request_executor=InlineExecutor())
    return head, bind(build_handler_chain(head, completed))


# ---- the chain ----------------------------------------------------------------------------
def test_chain_is_aggregator_kube_extensions_then_not_found(db):
    from tests.conftest import build_server
    head = build_server()[1]
    assert [s.name for s in head.servers()] == [
        "kube-aggregator", "kube-apiserver", "apiextensions-apiserver"]
    assert isinstance(head.delegate.delegate.delegate, NotFoundHandler)


def _served_by(app, method, path, body=b""):
    scope, sent, _ = run(app, method, path, [{"type": "http.request", "body": body}],
                         headers=(("content-type", "application/json"),))
    server = scope.get("k8s.server")
    return (server.name if server is not None else None), status_of(sent)


def test_kube_serves_core_and_apps(built):
    _, app = built
    name, (code, body) = _served_by(app, "GET", "/api/v1/namespaces/default/configmaps")
    assert (name, code, body["kind"]) == ("kube-apiserver", 200, "ConfigMapList")
    name, (code, body) = _served_by(app, "GET", "/apis/apps/v1/namespaces/default/deployments")
    assert (name, code, body["kind"]) == ("kube-apiserver", 200, "DeploymentList")


def test_unknown_group_falls_through_every_server_to_a_404_status(built):
    _, app = built
    name, (code, body) = _served_by(app, "GET", "/apis/nope.example.com/v1/things")
    assert name is None
    assert (code, body) == (404, NOT_FOUND)
    name, (code, body) = _served_by(app, "GET", "/apis/apps/v9/deployments")
    assert (name, code, body) == (None, 404, NOT_FOUND)


def test_apiextensions_kind_is_installed_in_and_served_by_the_extensions_server(built):
    head, app = built
    aggregator, kube, ext = head.servers()
    assert ext.index.strategy("apiextensions.k8s.io", "v1", "testgadgets") is not None
    others = [aggregator, kube]
    assert all(s.index.strategy("apiextensions.k8s.io", "v1", "testgadgets") is None
               for s in others)
    doc = orjson.dumps({"apiVersion": "apiextensions.k8s.io/v1", "kind": "TestGadget",
                        "metadata": {"name": "g1"}})
    name, (code, body) = _served_by(app, "POST", "/apis/apiextensions.k8s.io/v1/testgadgets", doc)
    assert (name, code, body["metadata"]["name"]) == ("apiextensions-apiserver", 201, "g1")
    name, (code, body) = _served_by(app, "GET", "/apis/apiextensions.k8s.io/v1/testgadgets/g1")
    assert (name, code, body["kind"]) == ("apiextensions-apiserver", 200, "TestGadget")
    name, (code, body) = _served_by(app, "GET", "/apis/apiregistration.k8s.io/v1/testrelays")
    assert (name, code, body["kind"]) == ("kube-aggregator", 200, "TestRelayList")
    # the process-wide registry never saw the throwaway kinds
    assert registered_kinds.strategy("apiextensions.k8s.io", "v1", "testgadgets") is None
    assert registered_kinds.strategy("apiregistration.k8s.io", "v1", "testrelays") is None


def test_aggregated_discovery_merges_the_groups_of_all_three_servers(built):
    _, app = built
    resp = ASGIClient(app).get("/apis", headers={"accept": AGG_V2})
    assert resp.status_code == 200 and resp["Content-Type"] == AGG_V2
    groups = {item["metadata"]["name"]: item for item in resp.json()["items"]}
    assert {"apps", "apiextensions.k8s.io", "apiregistration.k8s.io"} <= set(groups)
    gadgets = groups["apiextensions.k8s.io"]["versions"][0]["resources"]
    # beside the CustomResourceDefinition kind the crds app registers
    assert [r["resource"] for r in gadgets] == ["customresourcedefinitions", "testgadgets"]
    legacy = ASGIClient(app).get("/apis", headers={"accept": "application/json"}).json()
    names = [g["name"] for g in legacy["groups"]]
    assert {"apps", "apiextensions.k8s.io", "apiregistration.k8s.io"} <= set(names)
    listed = ASGIClient(app).get("/apis/apiextensions.k8s.io/v1").json()
    assert [r["name"] for r in listed["resources"]] == ["customresourcedefinitions",
                                                         "customresourcedefinitions/status",
                                                         "testgadgets"]


# ---- admission plugin names (kubernetes/apiserver:pkg/admission/plugins.go) ---------------
def test_unknown_admission_plugin_is_refused():
    with pytest.raises(ValueError) as exc:
        resolve(("NoSuchPlugin",), ())
    assert str(exc.value) == 'enable-admission-plugins plugin "NoSuchPlugin" is unknown'
    with pytest.raises(ValueError) as exc:
        resolve((), ("NoSuchPlugin",))
    assert str(exc.value) == 'disable-admission-plugins plugin "NoSuchPlugin" is unknown'


def test_every_upstream_plugin_can_be_enabled_by_name():
    for name in ORDER:
        on, absent = resolve((name,), ())
        assert name in on and absent == ()


def test_known_but_unregistered_plugin_is_refused_by_name(monkeypatch):
    # every upstream name is implemented: take one away to see the refusal a build without
    # it gives (an app whose ready() did not run)
    monkeypatch.delitem(admission_base._factories, "ImagePolicyWebhook")
    with pytest.raises(ValueError, match="not implemented.*ImagePolicyWebhook"):
        resolve(("ImagePolicyWebhook",), ())


def test_config_refuses_unknown_plugins_from_the_flags(db):
    options = Options(enable_admission_plugins=("NoSuchPlugin",))
    with pytest.raises(ValueError, match='plugin "NoSuchPlugin" is unknown'):
        Config(options=options, request_executor=InlineExecutor()).complete()


def test_every_upstream_default_plugin_runs():
    on, absent = resolve((), ())
    # 1.32's default set, MutatingAdmissionPolicy and ClusterTrustBundleAttest included
    # (inert while their alpha gates are off, as upstream)
    assert absent == ()
    for name in ("NamespaceLifecycle", "PodSecurity", "MutatingAdmissionPolicy",
                 "ClusterTrustBundleAttest", "ValidatingAdmissionWebhook", "ResourceQuota"):
        assert name in on
    assert "AlwaysPullImages" not in on            # registered, but off by default
    on, absent = resolve((), ("NamespaceLifecycle",))
    assert "NamespaceLifecycle" not in on


# ---- the bridge: body limit and disconnects -----------------------------------------------
def _chunks(total: int, size: int):
    out, left = [], total
    while left > 0:
        n = min(size, left)
        left -= n
        out.append({"type": "http.request", "body": b" " * n, "more_body": left > 0})
    return out


def _configmap_names(app):
    resp = ASGIClient(app).get("/api/v1/namespaces/default/configmaps")
    return [i["metadata"]["name"] for i in resp.json()["items"]]


def test_a_body_over_3_mib_is_413_while_it_is_read(built):
    _, app = built
    half_mib = 512 * 1024
    messages = _chunks(8 * half_mib, half_mib)          # 4 MiB in eight chunks
    scope, sent, reads = run(app, "POST", "/api/v1/namespaces/default/configmaps", messages)
    code, body = status_of(sent)
    assert code == 413
    assert (body["reason"], body["code"]) == ("RequestEntityTooLarge", 413)
    assert body["message"] == "Request entity too large: limit is 3145728"
    # refused at the seventh chunk (3.5 MiB); the eighth was never read
    assert reads == 7
    assert _configmap_names(app) == []


def test_a_chunked_body_under_the_limit_is_joined(built):
    _, app = built
    doc = orjson.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": "chunked"}, "data": {"k": "v" * 1000}})
    parts = [doc[i:i + 100] for i in range(0, len(doc), 100)]
    messages = [{"type": "http.request", "body": p, "more_body": i < len(parts) - 1}
                for i, p in enumerate(parts)]
    _, sent, reads = run(app, "POST", "/api/v1/namespaces/default/configmaps", messages,
                         headers=(("content-type", "application/json"),))
    code, body = status_of(sent)
    assert (code, body["data"]["k"]) == (201, "v" * 1000)
    assert reads == len(parts)


def test_a_client_that_disconnects_mid_body_gets_no_response(built):
    _, app = built
    doc = orjson.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "gone"}})
    messages = [{"type": "http.request", "body": doc[:10], "more_body": True},
                {"type": "http.disconnect"}]
    _, sent, reads = run(app, "POST", "/api/v1/namespaces/default/configmaps", messages,
                         headers=(("content-type", "application/json"),))
    assert sent == []
    assert reads == 2
    assert _configmap_names(app) == []
