"""The HTTP filters, each through the full in-process app or wrapped around a tiny fake ASGI
app (upstream kubernetes/apiserver:pkg/endpoints/filters/ and pkg/server/filters/)."""
import asyncio
import time

import pytest
from django.db import connections

from apiserver.authentication.anonymous import PUBLIC_PATHS, AnonymousAuthenticator
from apiserver.authentication.base import AuthenticationError, Authenticator, Union
from apiserver.authorization.base import build
from apiserver.filters.authentication import AuthenticationFilter
from apiserver.filters.max_in_flight import MaxInFlightFilter
from apiserver.filters.request_info import RequestInfoFilter, parse_request_info
from apiserver.filters.timeout import TimeoutFilter
from apiserver.server import bridge
from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import MASTERS, ASGIClient, InlineExecutor, in_process_app

BOB = (("commonName", "bob"),)
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


@pytest.fixture
def bind(db, monkeypatch):
    """Views run inline on the event loop's thread, where Django's thread-critical connection
    storage would open a second connection outside the test's transaction: bind the test's
    own connection (and keep the bridge from closing it) for the app's requests."""
    monkeypatch.setattr(bridge, "close_old_connections", lambda: None)
    ensure_revision_row()
    conn = connections["default"]

    def wrap(app):
        def bound(scope, receive, send):
            connections["default"] = conn
            return app(scope, receive, send)
        return bound
    return wrap


def fake_app(seen: list, delay: float = 0.0, gate=None):
    """An ASGI app that records each scope, optionally waits, then answers 200 "ok"."""
    async def app(scope, receive, send):
        seen.append(scope)
        if gate is not None and "block" in scope["query_string"].decode():
            await gate.wait()
        if delay:
            await asyncio.sleep(delay)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
    return app


# ---- request_info (kubernetes/apiserver:pkg/endpoints/request/requestinfo.go) -------------
R = dict   # expected RequestInfo fields

RESOURCE_URLS = [
    ("GET", "/api/v1/namespaces", "", R(verb="list", resource="namespaces", namespace="")),
    ("GET", "/api/v1/namespaces/other", "",
     R(verb="get", resource="namespaces", name="other", namespace="other")),
    ("GET", "/api/v1/namespaces/other/pods", "", R(verb="list", resource="pods", namespace="other")),
    ("HEAD", "/api/v1/namespaces/other/pods", "", R(verb="list", resource="pods")),
    ("GET", "/api/v1/namespaces/other/pods/foo", "",
     R(verb="get", resource="pods", name="foo", namespace="other", subresource="")),
    ("GET", "/api/v1/namespaces/other/pods/foo/status", "",
     R(verb="get", resource="pods", name="foo", subresource="status")),
    ("POST", "/api/v1/namespaces/other/pods/foo/binding", "",
     R(verb="create", resource="pods", name="foo", subresource="binding", namespace="other")),
    ("POST", "/api/v1/namespaces/other/pods", "", R(verb="create", resource="pods", name="")),
    ("PUT", "/api/v1/namespaces/other/finalize", "",
     R(verb="update", resource="namespaces", name="other", subresource="finalize",
       namespace="other")),
    ("PUT", "/api/v1/namespaces/other/status", "",
     R(verb="update", resource="namespaces", name="other", subresource="status")),
    ("DELETE", "/api/v1/namespaces/other/pods/foo", "", R(verb="delete", name="foo")),
    ("DELETE", "/api/v1/namespaces/other/pods", "", R(verb="deletecollection", name="")),
    ("PATCH", "/apis/apps/v1/namespaces/other/deployments/web/scale", "",
     R(verb="patch", api_prefix="apis", api_group="apps", api_version="v1",
       resource="deployments", name="web", subresource="scale", namespace="other")),
    ("GET", "/apis/apps/v1/deployments", "",
     R(verb="list", api_group="apps", resource="deployments", namespace="")),
    ("GET", "/api/v1/nodes/n1", "",
     R(verb="get", api_prefix="api", api_group="", resource="nodes", name="n1", namespace="")),
    # the legacy /watch/ prefix
    ("GET", "/api/v1/watch/pods", "", R(verb="watch", resource="pods", namespace="")),
    ("GET", "/api/v1/watch/namespaces/other/pods", "",
     R(verb="watch", resource="pods", namespace="other", name="")),
    ("GET", "/api/v1/watch/namespaces/other/pods/foo", "",
     R(verb="watch", resource="pods", namespace="other", name="foo")),
    ("GET", "/apis/apps/v1/watch/namespaces/other/deployments", "",
     R(verb="watch", api_group="apps", resource="deployments", namespace="other")),
    # ?watch= on a collection
    ("GET", "/api/v1/pods", "watch=true", R(verb="watch", resource="pods")),
    ("GET", "/api/v1/pods", "watch=1", R(verb="watch")),
    ("GET", "/api/v1/namespaces/other/pods", "watch=true&resourceVersion=5",
     R(verb="watch", namespace="other")),
    ("GET", "/api/v1/pods", "watch=false", R(verb="list")),
    ("GET", "/api/v1/pods", "watch=0", R(verb="list")),
    ("GET", "/api/v1/pods", "watch=FALSE", R(verb="list")),
]


@pytest.mark.parametrize("method,path,query,expected", RESOURCE_URLS,
                         ids=[f"{m} {p}?{q}" for m, p, q, _ in RESOURCE_URLS])
def test_resource_urls_parse_like_upstream(method, path, query, expected):
    info = parse_request_info(method, path, query)
    assert info.is_resource_request is True
    assert {k: getattr(info, k) for k in expected} == expected


@pytest.mark.parametrize("path", ["/version", "/healthz", "/api", "/apis", "/api/v1",
                                  "/apis/apps", "/openapi/v3", "/"])
def test_non_resource_urls(path):
    info = parse_request_info("GET", path, "")
    assert info.is_resource_request is False
    assert (info.verb, info.resource, info.name) == ("get", "", "")


@pytest.mark.parametrize("query,verb", [("watch=yes", "watch"), ("watch=", "watch"),
                                        ("watch=False", "list")])
def test_watch_query_flag_decodes_like_upstream_bool_params(query, verb):
    """Query booleans decode with apimachinery's ``Convert_Slice_string_To_bool``
    (kubernetes/apimachinery:pkg/runtime/conversion.go): only "0" and any-case "false" are
    false; any other value, the empty one included, is true."""
    assert parse_request_info("GET", "/api/v1/pods", query).verb == verb


@pytest.mark.parametrize("query,verb", [("fieldSelector=metadata.name%3Dfoo", "list"),
                                        ("watch=true&fieldSelector=metadata.name%3Dfoo", "watch")])
def test_metadata_name_field_selector_names_the_object(query, verb):
    """requestinfo.go: a list or watch whose fieldSelector requires metadata.name=X is
    about the object X (so RBAC resourceNames can allow ``kubectl get pod foo -w``)."""
    info = parse_request_info("GET", "/api/v1/namespaces/other/pods", query)
    assert (info.verb, info.resource, info.name) == (verb, "pods", "foo")


def test_filter_stores_the_parsed_info_in_the_scope():
    seen = []
    resp = ASGIClient(RequestInfoFilter(fake_app(seen))).get(
        "/api/v1/watch/namespaces/ns1/configmaps")
    assert resp.status_code == 200
    info = seen[0]["k8s.request_info"]
    assert (info.verb, info.namespace, info.resource) == ("watch", "ns1", "configmaps")


# ---- authentication (kubernetes/apiserver:pkg/endpoints/filters/authentication.go) --------
@pytest.fixture
def open_app(bind):
    """AlwaysAllow, so only authentication decides."""
    return bind(in_process_app()[1])


UNAUTHORIZED = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "Unauthorized", "reason": "Unauthorized", "code": 401}


@pytest.mark.parametrize("subject", [None, (("organizationName", "system:masters"),)],
                         ids=["no-certificate", "no-common-name"])
def test_no_usable_client_certificate_is_401(open_app, subject):
    resp = ASGIClient(open_app, subject=subject).get("/api/v1/namespaces")
    assert resp.status_code == 401
    assert resp.json() == UNAUTHORIZED


@pytest.mark.parametrize("path", ["/version", "/healthz", "/livez", "/readyz", "/readyz/ping"])
def test_health_and_version_are_open_to_anonymous(open_app, path):
    resp = ASGIClient(open_app, subject=None).get(path)
    assert resp.status_code == 200
    if path == "/version":
        assert resp.json()["major"] == "1"
    else:
        assert resp.content == b"ok"


@pytest.mark.parametrize("path", ["/versions", "/healthzx", "/apis", "/openapi/v3"])
def test_only_the_exact_anonymous_paths_are_open(open_app, path):
    assert ASGIClient(open_app, subject=None).get(path).status_code == 401


def test_subject_common_name_and_organizations_are_the_user(open_app):
    subject = (("commonName", "alice"), ("organizationName", "dev"),
               ("organizationName", "ops"))
    resp = ASGIClient(open_app, subject=subject).post(
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    assert resp.status_code == 201
    assert resp.json()["status"]["userInfo"] == {
        "username": "alice", "groups": ["dev", "ops", "system:authenticated"]}


class Rejecting(Authenticator):
    def authenticate(self, scope):
        raise AuthenticationError("invalid bearer token")


def test_an_invalid_credential_never_falls_back_to_anonymous():
    seen = []
    union = Union([Rejecting()], anonymous=AnonymousAuthenticator())
    resp = ASGIClient(AuthenticationFilter(fake_app(seen), union)).get("/healthz")
    assert resp.status_code == 401
    # upstream's 401 says "Unauthorized" whatever the reason (never echoing the credential)
    assert resp.json()["message"] == "Unauthorized"
    assert seen == []


def test_anonymous_user_is_system_anonymous():
    seen = []
    no_opinion = Union([Authenticator()], anonymous=AnonymousAuthenticator(PUBLIC_PATHS))
    resp = ASGIClient(AuthenticationFilter(fake_app(seen), no_opinion), subject=None).get("/livez")
    assert resp.status_code == 200
    user = seen[0]["k8s.user"]
    assert (user.name, tuple(user.groups)) == ("system:anonymous", ("system:unauthenticated",))


# ---- authorization (kubernetes/apiserver:pkg/endpoints/filters/authorization.go and
# handlers/responsewriters/errors.go Forbidden; apimachinery errors.NewForbidden) -----------
@pytest.fixture
def app_with(bind):
    """The in-process app with an authorizer of these modes."""
    return lambda modes: bind(in_process_app(authorizer=build(modes))[1])


def test_closed_authorizer_forbids_a_non_masters_user(app_with):
    resp = ASGIClient(app_with(()), subject=BOB).get(CONFIGMAPS)
    assert resp.status_code == 403
    body = resp.json()
    assert body["reason"] == "Forbidden" and body["code"] == 403
    assert body["message"] == ('configmaps is forbidden: User "bob" cannot list resource '
                               '"configmaps" in API group "" in the namespace "default"')
    assert body["details"] == {"kind": "configmaps"}


def test_closed_authorizer_allows_system_masters(app_with):
    resp = ASGIClient(app_with(()), subject=MASTERS).get(CONFIGMAPS)
    assert resp.status_code == 200
    assert resp.json()["kind"] == "ConfigMapList"


def test_always_deny_forbids_with_its_reason_but_masters_pass(app_with):
    app = app_with(("AlwaysDeny",))
    resp = ASGIClient(app, subject=BOB).get(CONFIGMAPS)
    assert resp.status_code == 403
    assert resp.json()["message"] == (
        'configmaps is forbidden: User "bob" cannot list resource "configmaps" in API group "" '
        'in the namespace "default": Everything is forbidden.')
    assert ASGIClient(app, subject=MASTERS).get(CONFIGMAPS).status_code == 200


def test_forbidden_messages_for_cluster_scope_and_paths(app_with):
    client = ASGIClient(app_with(()), subject=BOB)
    nodes = client.get("/api/v1/nodes")
    assert nodes.json()["message"] == ('nodes is forbidden: User "bob" cannot list resource '
                                       '"nodes" in API group "" at the cluster scope')
    apis = client.get("/apis")
    assert apis.status_code == 403
    assert apis.json()["message"] == 'forbidden: User "bob" cannot get path "/apis"'


def test_forbidden_names_the_group_qualified_resource(app_with):
    """NewForbidden(GroupResource{apps, deployments}) renders ``deployments.apps``."""
    resp = ASGIClient(app_with(()), subject=BOB).get("/apis/apps/v1/namespaces/default/deployments")
    assert resp.status_code == 403
    body = resp.json()
    assert body["message"] == (
        'deployments.apps is forbidden: User "bob" cannot list resource "deployments" in API '
        'group "apps" in the namespace "default"')
    assert body["details"] == {"group": "apps", "kind": "deployments"}


def test_forbidden_subresource_keeps_the_resource_as_the_subject(app_with):
    """The GroupResource is the resource alone; only the sentence names pods/binding."""
    resp = ASGIClient(app_with(()), subject=BOB).post(
        "/api/v1/namespaces/default/pods/web/binding", {"target": {"name": "n1"}})
    assert resp.status_code == 403
    body = resp.json()
    assert body["message"] == (
        'pods "web" is forbidden: User "bob" cannot create resource "pods/binding" in API '
        'group "" in the namespace "default"')
    assert body["details"] == {"kind": "pods", "name": "web"}


def test_config_default_authorizer_is_closed(bind):
    """``Config.authorizer`` None never means allow-all: only system:masters passes."""
    from apiserver.server.chain import create_server_chain
    from apiserver.server.config import Config
    from apiserver.server.handler_chain import build_handler_chain

    from apiserver.options import Options

    completed = Config(options=Options(client_ca_file="in-process"), admission_plugins=(),
                       request_executor=InlineExecutor()).complete()
    app = bind(build_handler_chain(create_server_chain(completed), completed))
    resp = ASGIClient(app, subject=BOB).get(CONFIGMAPS)
    assert resp.status_code == 403 and resp.json()["reason"] == "Forbidden"
    assert ASGIClient(app, subject=MASTERS).get(CONFIGMAPS).status_code == 200


# ---- timeout (kubernetes/apiserver:pkg/endpoints/filters/request_deadline.go and
# pkg/server/filters/timeout.go) ------------------------------------------------------------
def test_bogus_timeout_is_400_with_upstreams_message(open_app):
    resp = ASGIClient(open_app).get(CONFIGMAPS, query={"timeout": "bogus"})
    assert resp.status_code == 400
    body = resp.json()
    assert body["reason"] == "BadRequest"
    # parseTimeout: "%s - %s" of invalidTimeoutInURL and time.ParseDuration's error
    assert body["message"] == ('invalid timeout specified in the request URL - '
                               'time: invalid duration "bogus"')


def test_bogus_timeout_is_refused_before_authentication(open_app):
    resp = ASGIClient(open_app, subject=None).get(CONFIGMAPS, query={"timeout": "bogus"})
    assert resp.status_code == 400 and resp.json()["reason"] == "BadRequest"


def _timed(app, seconds):
    return RequestInfoFilter(TimeoutFilter(app, seconds))


def test_slow_request_gets_a_504_status():
    seen = []
    started = time.monotonic()
    resp = ASGIClient(_timed(fake_app(seen, delay=5), 0.05)).get(CONFIGMAPS)
    assert time.monotonic() - started < 2
    assert resp.status_code == 504
    body = resp.json()
    assert (body["kind"], body["status"], body["reason"], body["code"]) == \
        ("Status", "Failure", "Timeout", 504)
    assert body["message"].startswith("Timeout: request did not complete within")
    assert len(seen) == 1


def test_timeout_parameter_only_shortens_the_limit():
    started = time.monotonic()
    short = ASGIClient(_timed(fake_app([], delay=5), 60)).get(CONFIGMAPS, query={"timeout": "50ms"})
    assert short.status_code == 504 and time.monotonic() - started < 2
    longer = ASGIClient(_timed(fake_app([], delay=5), 0.05)).get(CONFIGMAPS,
                                                                  query={"timeout": "1h"})
    assert longer.status_code == 504 and time.monotonic() - started < 4
    fast = ASGIClient(_timed(fake_app([], delay=0.01), 60)).get(CONFIGMAPS,
                                                                 query={"timeout": "10s"})
    assert fast.status_code == 200 and fast.content == b"ok"


def test_watches_are_not_timed_out():
    resp = ASGIClient(_timed(fake_app([], delay=0.2), 0.05)).get(CONFIGMAPS,
                                                                  query={"watch": "true"})
    assert resp.status_code == 200 and resp.content == b"ok"


# ---- max_in_flight (kubernetes/apiserver:pkg/server/filters/maxinflight.go) ---------------
def _concurrently(limit_read, limit_mutating, scenario):
    async def main():
        gate = asyncio.Event()
        seen = []
        limiter = MaxInFlightFilter(fake_app(seen, gate=gate), limit_read, limit_mutating)
        client = ASGIClient(RequestInfoFilter(limiter))
        return await scenario(client, gate, seen, limiter)
    return asyncio.run(main())


async def _until(predicate):
    for _ in range(1000):
        if predicate():
            return
        await asyncio.sleep(0)
    raise AssertionError("the fake app was never reached")


def test_second_concurrent_request_gets_429_with_retry_after():
    async def scenario(client, gate, seen, limiter):
        first = asyncio.create_task(client.acall("GET", CONFIGMAPS, query="block=1"))
        await _until(lambda: len(seen) == 1)
        second = await client.acall("GET", CONFIGMAPS)
        # mutating requests have their own budget
        mutating = await client.acall("POST", CONFIGMAPS, b"{}")
        gate.set()
        first = await first
        after = await client.acall("GET", CONFIGMAPS)
        return first, second, mutating, after, dict(limiter.current)

    first, second, mutating, after, current = _concurrently(1, 1, scenario)
    assert second.status_code == 429
    assert second["Retry-After"] == "1"
    body = second.json()
    assert (body["reason"], body["code"]) == ("TooManyRequests", 429)
    assert body["message"] == "Too many requests, please try again later."
    assert (first.status_code, mutating.status_code, after.status_code) == (200, 200, 200)
    assert current == {"read": 0, "mutating": 0}


def test_second_concurrent_write_gets_429():
    async def scenario(client, gate, seen, limiter):
        first = asyncio.create_task(client.acall("DELETE", CONFIGMAPS + "/x", query="block=1"))
        await _until(lambda: len(seen) == 1)
        second = await client.acall("PUT", CONFIGMAPS + "/x", b"{}")
        gate.set()
        return (await first), second

    first, second = _concurrently(5, 1, scenario)
    assert (first.status_code, second.status_code) == (200, 429)


def test_watches_are_not_counted():
    async def scenario(client, gate, seen, limiter):
        watches = [asyncio.create_task(client.acall("GET", CONFIGMAPS, query="watch=1&block=1"))
                   for _ in range(3)]
        await _until(lambda: len(seen) == 3)
        read = await client.acall("GET", CONFIGMAPS)
        counted = dict(limiter.current)
        gate.set()
        return [await w for w in watches], read, counted

    watches, read, counted = _concurrently(1, 1, scenario)
    assert [w.status_code for w in watches] == [200, 200, 200]
    assert read.status_code == 200
    assert counted == {"read": 0, "mutating": 0}


def test_over_the_limit_leases_and_system_masters_still_get_answers():
    """Leases take no seat (APF's node-high and leader-election levels upstream);
    system:masters is served past the limit, as upstream's filter."""
    from apiserver.authentication.user import UserInfo
    lease = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/node-1"

    async def main():
        gate, seen = asyncio.Event(), []
        limiter = MaxInFlightFilter(fake_app(seen, gate=gate), 5, 1)

        def as_user(scope, receive, send):      # what authentication would have set
            groups = ("system:masters",) if (b"x-masters", b"1") in scope["headers"] else ()
            scope["k8s.user"] = UserInfo("someone", groups=groups)
            return limiter(scope, receive, send)
        client = ASGIClient(RequestInfoFilter(as_user))
        first = asyncio.create_task(client.acall("POST", CONFIGMAPS, b"{}", query="block=1"))
        await _until(lambda: len(seen) == 1)
        renewed = await client.acall("PUT", lease, b"{}")
        refused = await client.acall("POST", CONFIGMAPS, b"{}")
        masters = await client.acall("POST", CONFIGMAPS, b"{}", headers={"X-Masters": "1"})
        gate.set()
        await first
        return renewed, refused, masters, dict(limiter.current)

    renewed, refused, masters, current = asyncio.run(main())
    assert (renewed.status_code, refused.status_code, masters.status_code) == (200, 429, 200)
    assert current == {"read": 0, "mutating": 0}


def test_a_failing_request_frees_its_slot():
    async def boom(scope, receive, send):
        raise RuntimeError("inner failure")
    limiter = MaxInFlightFilter(boom, 1, 1)
    with pytest.raises(RuntimeError):
        ASGIClient(RequestInfoFilter(limiter)).get(CONFIGMAPS)
    assert limiter.current == {"read": 0, "mutating": 0}
