"""The RBAC admin driven over HTTP in-process: the real handler chain routes /admin paths to the
admin bridge, which runs Django's admin with its own middleware (sessions, CSRF, login).

A browser stand-in keeps the cookies and sends CSRF tokens as a browser would.  Saves must go
through the API: each one is seen by the API at a new resourceVersion, lands in the change log
and reaches a watch; the API's validation messages show on the form fields; the API's own
changes show in the admin.  The two sides never accept each other's credentials.
"""
from __future__ import annotations

import asyncio
import re
import threading
from html import unescape
from urllib.parse import urlencode, urlsplit

import orjson
import pytest
from django.db import connection

from apiserver.authorization.base import AlwaysAllow, Decision
from apiserver.storage.sql import SQLStorage
from rbac.storage import RBACStorage
from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import MASTERS, ASGIClient, in_process_app

G = "rbac.authorization.k8s.io"
API = f"/apis/{G}/v1"
PASSWORD = "admin-pw-123"


class HeaderRecorder:
    """ASGI wrapper keeping the raw response headers (Set-Cookie comes once per cookie)."""

    def __init__(self, app):
        self.app, self.headers = app, []

    async def __call__(self, scope, receive, send):
        async def record(message):
            if message["type"] == "http.response.start":
                self.headers = list(message.get("headers", []))
            await send(message)
        await self.app(scope, receive, record)


class Browser:
    """Cookies, CSRF tokens and form posts against the in-process server."""

    def __init__(self, app, subject=None):
        self.recorder = HeaderRecorder(app)
        self.client = ASGIClient(self.recorder, subject=subject)
        self.cookies: dict = {}

    def request(self, method, url, form=None, headers=None, cookies=True):
        parts = urlsplit(url)
        h = {"host": "testserver", **(headers or {})}
        if cookies and self.cookies:
            h["cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = b""
        if form is not None:
            body = urlencode(form, doseq=True).encode()
            h.update({"content-type": "application/x-www-form-urlencoded",
                      "origin": "https://testserver", "referer": f"https://testserver{url}"})
        resp = self.client.request(method, parts.path, body, h, parts.query)
        for name, value in self.recorder.headers:
            if name.lower() == b"set-cookie":
                key, _, rest = value.decode().partition("=")
                self.cookies[key] = rest.split(";", 1)[0]
        resp.text = resp.content.decode("utf-8", "replace")
        return resp

    def get(self, url, **kw):
        return self.request("GET", url, **kw)

    def post(self, url, form, **kw):
        return self.request("POST", url, form, **kw)

    def csrf(self, page) -> str:
        return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)

    def login(self, username, password=PASSWORD):
        page = self.get("/admin/login/?next=/admin/")
        assert page.status_code == 200, page.text[:300]
        resp = self.post("/admin/login/?next=/admin/", {
            "csrfmiddlewaretoken": self.csrf(page), "username": username,
            "password": password, "next": "/admin/"})
        assert resp.status_code == 302 and resp["location"] == "/admin/", resp.text[:500]
        return resp

    def submit(self, url, fields: dict):
        """GET the form at ``url`` and POST ``fields`` with its CSRF token."""
        page = self.get(url)
        assert page.status_code == 200, page.text[:300]
        return self.post(url, {"csrfmiddlewaretoken": self.csrf(page), **fields})


def management(prefix, total, initial=0):
    return {f"{prefix}-TOTAL_FORMS": total, f"{prefix}-INITIAL_FORMS": initial,
            f"{prefix}-MIN_NUM_FORMS": 0, f"{prefix}-MAX_NUM_FORMS": 1000}


def rules_form(*rules, initial=0, ids=()):
    out = management("rules", len(rules), initial)
    for i, rule in enumerate(rules):
        for key, value in rule.items():
            out[f"rules-{i}-{key}"] = value
        if i < len(ids):
            out[f"rules-{i}-id"] = ids[i]
    return out


def errors_in(page) -> str:
    return unescape(" ".join(re.findall(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', page.text,
                                        re.S)))


def field_errors(page, field_id: str) -> str:
    """The errors shown on one field (``labels``, ``rules-0-verbs``)."""
    found = re.search(rf'<ul class="errorlist" id="id_{re.escape(field_id)}_error">(.*?)</ul>',
                      page.text, re.S)
    return unescape(re.sub(r"<[^>]+>", " ", found.group(1))).strip() if found else ""


def server(**config):
    """The in-process server with RBAC in the relational storage (explicitly: what the rbac
    app's storage override does once it is wired)."""
    default = SQLStorage()
    rbac = RBACStorage(listeners=default.listeners)
    config.setdefault("storage", default)
    config.setdefault("storage_overrides", dict.fromkeys(rbac.tables, rbac))
    ensure_revision_row()
    return in_process_app(**config)


def superuser(name="admin"):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser(name, f"{name}@example.com", PASSWORD)


def api(app):
    return ASGIClient(app, subject=MASTERS)


def role_body(name, namespace="ns", verbs=("get",)):
    return {"apiVersion": f"{G}/v1", "kind": "Role",
            "metadata": {"name": name, "namespace": namespace},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": list(verbs)}]}


class BackgroundWatch:
    """The server's own watch cache (``config.cacher``) on an event loop in a thread: the
    watch a client's ``?watch=1`` would be served from."""

    def __init__(self, cacher):
        self.cacher = cacher
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def _run(self, coro, timeout=10):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def watch(self, resource, namespace, after):
        async def start():
            cache = await self.cacher.get()
            return await cache.watch(resource, namespace, after)
        return self._run(start())

    def next(self, watcher, timeout=5):
        return self._run(asyncio.wait_for(watcher.queue.get(), timeout), timeout + 1)

    def stop(self):
        async def stop():
            cache = await self.cacher.get()
            await self.cacher.stop()
            await asyncio.get_running_loop().run_in_executor(cache.reader,
                                                             lambda: connection.close())
            cache.reader.shutdown(wait=True)
        self._run(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


# ---- the round trip ---------------------------------------------------------------------------
def test_add_a_role_with_two_rules_and_edit_a_binding(threaded_db):
    completed, app = server()
    superuser()
    browser = Browser(app)
    browser.login("admin")
    watch = BackgroundWatch(completed.cacher)
    try:
        start = completed.storage.current_revision()
        roles_w = watch.watch(f"roles.{G}", "ns", start)
        bindings_w = watch.watch(f"rolebindings.{G}", "ns", start)

        resp = browser.submit("/admin/rbac/role/add/", {
            "namespace": "ns", "name": "pod-reader", "labels": '{"team": "a"}',
            "annotations": "", "resource_version": "", "_save": "Save",
            **rules_form({"verbs": "get, list", "api_groups": '""', "resources": "pods, pods/log"},
                         {"verbs": "watch", "api_groups": "apps", "resources": "deployments",
                          "resource_names": "web"})})
        assert resp.status_code == 302, errors_in(resp) or resp.text[:2000]

        got = api(app).get(f"{API}/namespaces/ns/roles/pod-reader")
        assert got.status_code == 200
        role = got.json()
        assert role["rules"] == [
            {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods", "pods/log"]},
            {"verbs": ["watch"], "apiGroups": ["apps"], "resources": ["deployments"],
             "resourceNames": ["web"]}]
        assert role["metadata"]["labels"] == {"team": "a"}
        rv = int(role["metadata"]["resourceVersion"])
        assert rv > start
        assert role["metadata"]["managedFields"][0]["manager"] == "django-admin"
        kind, ev = watch.next(roles_w)
        assert (kind, ev.rv, orjson.loads(ev.doc)) == ("ADDED", rv, role)

        # a binding made through the API, edited in the admin
        made = api(app).post(f"{API}/namespaces/ns/rolebindings", {
            "apiVersion": f"{G}/v1", "kind": "RoleBinding",
            "metadata": {"name": "readers", "namespace": "ns"},
            "roleRef": {"kind": "Role", "name": "pod-reader"},
            "subjects": [{"kind": "User", "name": "bob"}]})
        assert made.status_code == 201, made.content
        assert watch.next(bindings_w)[0] == "ADDED"
        from rbac import models
        row = models.RoleBinding.objects.get(namespace="ns", name="readers")
        subject = row.subjects.get()
        url = f"/admin/rbac/rolebinding/{row.pk}/change/"
        page = browser.get(url)
        assert page.status_code == 200 and "pod-reader" in page.text and "bob" in page.text
        fields = {"labels": "", "annotations": "", "resource_version": row.resource_version,
                  "_save": "Save", **management("subjects", 2, 1),
                  "subjects-0-id": subject.pk, "subjects-0-role_binding": row.pk,
                  "subjects-0-kind": "User", "subjects-0-name": "bob",
                  "subjects-1-kind": "Group", "subjects-1-name": "devs",
                  "subjects-1-role_binding": row.pk}
        resp = browser.post(url, {"csrfmiddlewaretoken": browser.csrf(page), **fields})
        assert resp.status_code == 302, errors_in(resp) or resp.text[:2000]
        binding = api(app).get(f"{API}/namespaces/ns/rolebindings/readers").json()
        assert binding["subjects"] == [{"kind": "User", "apiGroup": G, "name": "bob"},
                                       {"kind": "Group", "apiGroup": G, "name": "devs"}]
        assert int(binding["metadata"]["resourceVersion"]) > row.resource_version
        kind, ev = watch.next(bindings_w)
        assert kind == "MODIFIED" and orjson.loads(ev.doc) == binding

        # the admin's history records both saves
        from django.contrib.admin.models import LogEntry
        assert LogEntry.objects.count() == 2
    finally:
        watch.stop()


@pytest.mark.django_db
def test_the_apis_validation_messages_land_on_the_form_fields():
    _, app = server()
    superuser()
    browser = Browser(app)
    browser.login("admin")
    resp = browser.submit("/admin/rbac/role/add/", {
        "namespace": "ns", "name": "bad", "labels": "", "annotations": "", "_save": "Save",
        **rules_form({"verbs": "", "api_groups": '""', "resources": "pods"},
                     {"verbs": "get", "api_groups": "", "resources": "",
                      "non_resource_urls": ""})})
    assert resp.status_code == 200          # the form again, with the errors
    assert "Required value: verbs must contain at least one value" in \
        field_errors(resp, "rules-0-verbs")
    assert "Required value: resource rules must supply at least one api group" in \
        field_errors(resp, "rules-1-api_groups")
    assert "Required value: resource rules must supply at least one resource" in \
        field_errors(resp, "rules-1-resources")
    assert ('Role.rbac.authorization.k8s.io "bad" is invalid' in unescape(resp.text))
    assert api(app).get(f"{API}/namespaces/ns/roles/bad").status_code == 404

    resp = browser.submit("/admin/rbac/role/add/", {
        "namespace": "ns", "name": "Not_A_Name", "labels": '{"bad key!": "x"}',
        "annotations": "", "_save": "Save",
        **rules_form({"verbs": "get", "api_groups": '""', "resources": "pods"})})
    assert resp.status_code == 200
    assert field_errors(resp, "labels").startswith('Invalid value: "bad key!": name part must')


@pytest.mark.django_db
def test_a_stale_form_is_a_conflict_not_a_lost_update():
    from rbac import models

    _, app = server()
    superuser()
    client = api(app)
    assert client.post(f"{API}/namespaces/ns/roles", role_body("r")).status_code == 201
    row = models.Role.objects.get(name="r")
    rule = row.rules.get()
    browser = Browser(app)
    browser.login("admin")
    url = f"/admin/rbac/role/{row.pk}/change/"
    page = browser.get(url)
    # someone else changes the role meanwhile
    current = client.get(f"{API}/namespaces/ns/roles/r").json()
    current["rules"][0]["verbs"] = ["get", "list"]
    assert client.put(f"{API}/namespaces/ns/roles/r", current).status_code == 200
    resp = browser.post(url, {
        "csrfmiddlewaretoken": browser.csrf(page), "labels": "", "annotations": "",
        "resource_version": row.resource_version, "_save": "Save",
        **rules_form({"verbs": "*", "api_groups": "*", "resources": "*", "role": row.pk},
                     initial=1, ids=[rule.pk])})
    assert resp.status_code == 200, resp.text[:300]
    assert "the object has been modified" in errors_in(resp), errors_in(resp)
    assert client.get(f"{API}/namespaces/ns/roles/r").json()["rules"][0]["verbs"] == \
        ["get", "list"]

    # a rule the form shows is removed meanwhile: its row is gone, and the page says so
    current = client.get(f"{API}/namespaces/ns/roles/r").json()
    current["rules"].append({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]})
    assert client.put(f"{API}/namespaces/ns/roles/r", current).status_code == 200
    ids = [r.pk for r in row.rules.all()]
    page = browser.get(url)
    del current["metadata"]["resourceVersion"]
    current["rules"] = current["rules"][:1]
    assert client.put(f"{API}/namespaces/ns/roles/r", current).status_code == 200
    resp = browser.post(url, {
        "csrfmiddlewaretoken": browser.csrf(page), "labels": "", "annotations": "",
        "resource_version": models.Role.objects.get(pk=row.pk).resource_version,
        "_save": "Save",
        **rules_form({"verbs": "get", "api_groups": '""', "resources": "pods", "role": row.pk},
                     {"verbs": "get", "api_groups": '""', "resources": "secrets",
                      "role": row.pk}, initial=2, ids=ids)})
    assert resp.status_code == 200
    assert "The rules changed since this page was loaded" in errors_in(resp)


@pytest.mark.django_db
def test_api_changes_show_in_the_admin_and_admin_deletes_go_through_the_api():
    from rbac import models

    _, app = server()
    superuser()
    client = api(app)
    body = {"apiVersion": f"{G}/v1", "kind": "ClusterRole",
            "metadata": {"name": "system:watcher",
                         "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
            "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"agg": "yes"}}]},
            "rules": [{"verbs": ["watch"], "nonResourceURLs": ["/metrics"]}]}
    assert client.post(f"{API}/clusterroles", body).status_code == 201
    browser = Browser(app)
    browser.login("admin")
    listing = browser.get("/admin/rbac/clusterrole/?bootstrap=true")
    assert listing.status_code == 200 and "system:watcher" in listing.text
    assert "system:watcher" not in browser.get("/admin/rbac/clusterrole/?bootstrap=false").text
    row = models.ClusterRole.objects.get(name="system:watcher")
    page = browser.get(f"/admin/rbac/clusterrole/{row.pk}/change/")
    assert "/metrics" in page.text and "clusterRoleSelectors" in page.text
    assert "Bootstrap policy" in page.text
    # no annotations: an empty box, not the JSON ``null`` (which would be saved back)
    assert re.search(r'<textarea name="annotations"[^>]*>\s*</textarea>', page.text)

    # the API changes it: the admin shows the new state
    current = client.get(f"{API}/clusterroles/system:watcher").json()
    current["rules"][0]["nonResourceURLs"] = ["/metrics", "/debug/*"]
    assert client.put(f"{API}/clusterroles/system:watcher", current).status_code == 200
    assert "/debug/*" in browser.get(f"/admin/rbac/clusterrole/{row.pk}/change/").text

    # deleting in the admin deletes through the Store
    rv = models.ClusterRole.objects.get(pk=row.pk).resource_version
    confirm = browser.get(f"/admin/rbac/clusterrole/{row.pk}/delete/")
    resp = browser.post(f"/admin/rbac/clusterrole/{row.pk}/delete/",
                        {"csrfmiddlewaretoken": browser.csrf(confirm), "post": "yes"})
    assert resp.status_code == 302
    assert client.get(f"{API}/clusterroles/system:watcher").status_code == 404
    storage = RBACStorage()
    [change] = storage.changes_after(rv, resource=f"clusterroles.{G}")
    assert change.type == "DELETED"


# ---- credentials never cross ------------------------------------------------------------------
@pytest.mark.django_db
def test_api_credentials_do_not_open_the_admin_and_its_session_does_not_open_the_api():
    from dataclasses import replace

    from apiserver.options import Options

    _, app = server(options=replace(Options(), anonymous_auth=False,
                                    client_ca_file="in-process"))
    superuser()
    # a system:masters client certificate: the admin does not know it
    as_masters = Browser(app, subject=MASTERS)
    resp = as_masters.get("/admin/")
    assert resp.status_code == 302 and resp["location"].startswith("/admin/login/")
    assert as_masters.get("/admin", cookies=False)["location"] == "/admin/"
    # the admin's session is no API credential
    browser = Browser(app)
    browser.login("admin")
    assert browser.get("/admin/").status_code == 200
    assert browser.get("/api/v1/namespaces").status_code == 401
    assert browser.get(f"{API}/roles").status_code == 401
    # the cookies are for /admin/ only, over HTTPS only
    page = browser.get("/admin/login/?next=/admin/", cookies=False)
    cookie_lines = [v.decode() for k, v in browser.recorder.headers
                    if k.lower() == b"set-cookie"]
    assert cookie_lines and all("Path=/admin/" in c and "Secure" in c for c in cookie_lines)
    assert page["x-frame-options"] == "DENY"


@pytest.mark.django_db
def test_csrf_is_enforced():
    _, app = server()
    superuser()
    browser = Browser(app)
    browser.login("admin")
    resp = browser.post("/admin/rbac/role/add/", {"namespace": "ns", "name": "x", "_save": "Save",
                                                 **rules_form()})
    assert resp.status_code == 403 and "CSRF" in resp.text


@pytest.mark.django_db
def test_the_admins_static_files_are_served():
    _, app = server()
    browser = Browser(app)
    resp = browser.get("/admin/static/admin/css/base.css")
    assert resp.status_code == 200 and resp["content-type"].startswith("text/css")
    assert b"body" in resp.content
    lengths = [v for k, v in browser.recorder.headers if k.lower() == b"content-length"]
    assert lengths == [str(len(resp.content)).encode()]
    assert resp["x-content-type-options"] == "nosniff"
    assert Browser(app).get("/admin/static/../settings.py").status_code == 400
    assert Browser(app).get("/admin/static/admin/css/nothing.css").status_code == 404


def test_the_admins_middleware_is_checked_where_it_is():
    from django.core import checks
    from django.test.utils import override_settings

    assert not [e for e in checks.run_checks() if e.id == "rbac.E001"]
    with override_settings(ADMIN_MIDDLEWARE=[]):
        assert len([e for e in checks.run_checks() if e.id == "rbac.E001"]) == 3


# ---- who the user is ---------------------------------------------------------------------------
class DenyCarol(AlwaysAllow):
    """Allows everything except to the user carol."""

    def authorize(self, attrs):
        if attrs.user.name == "carol":
            return Decision.NO_OPINION, "carol may not"
        return super().authorize(attrs)


@pytest.mark.django_db
def test_saves_are_authorized_as_the_staff_users_kubernetes_identity():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group, Permission

    from apiserver.authorization.base import Union
    from rbac.admin_writes import kubernetes_user

    _, app = server(authorizer=Union([DenyCarol()]))
    carol = get_user_model().objects.create_user("carol", password=PASSWORD, is_staff=True)
    carol.user_permissions.set(Permission.objects.filter(content_type__app_label="rbac"))
    carol.groups.add(Group.objects.create(name="ops"))
    who = kubernetes_user(carol)
    assert (who.name, who.uid, who.groups) == ("carol", str(carol.pk),
                                               ("ops", "system:authenticated"))
    assert "system:masters" in kubernetes_user(superuser()).groups

    browser = Browser(app)
    browser.login("carol")
    resp = browser.submit("/admin/rbac/role/add/", {
        "namespace": "ns", "name": "r", "labels": "", "annotations": "", "_save": "Save",
        **rules_form({"verbs": "get", "api_groups": '""', "resources": "pods"})})
    assert resp.status_code == 200
    assert ('roles.rbac.authorization.k8s.io is forbidden: User "carol" cannot create resource '
            '"roles" in API group "rbac.authorization.k8s.io" in the namespace "ns": carol may '
            'not') in unescape(resp.text)


# ---- who can ------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_who_can_and_what_can_from_the_live_rules():
    _, app = server()
    superuser()
    client = api(app)
    client.post(f"{API}/namespaces/ns/roles", role_body("pod-reader", verbs=("get", "list")))
    client.post(f"{API}/namespaces/ns/rolebindings", {
        "apiVersion": f"{G}/v1", "kind": "RoleBinding",
        "metadata": {"name": "readers", "namespace": "ns"},
        "roleRef": {"kind": "Role", "name": "pod-reader"},
        "subjects": [{"kind": "User", "name": "bob"}, {"kind": "ServiceAccount", "name": "ci"}]})
    client.post(f"{API}/clusterroles", {
        "apiVersion": f"{G}/v1", "kind": "ClusterRole", "metadata": {"name": "logs"},
        "rules": [{"verbs": ["*"], "apiGroups": [""], "resources": ["*/log"]}]})
    client.post(f"{API}/clusterrolebindings", {
        "apiVersion": f"{G}/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "logs"},
        "roleRef": {"kind": "ClusterRole", "name": "logs"},
        "subjects": [{"kind": "Group", "name": "devs"}]})
    browser = Browser(app)
    browser.login("admin")

    who = browser.get("/admin/rbac/api/who-can/?verb=list&resource=pods&namespace=ns").json()
    assert [(g["subject"]["name"], g["binding"]["name"]) for g in who["grants"]] == \
        [("bob", "readers"), ("ci", "readers")]
    assert who["alwaysAllowed"] == [{"kind": "Group", "name": "system:masters"}]
    who = browser.get("/admin/rbac/api/who-can/?verb=get&resource=pods/log&namespace=other").json()
    assert [(g["subject"]["name"], g["binding"]["kind"], g["namespace"]) for g in who["grants"]] \
        == [("devs", "ClusterRoleBinding", "*")]
    assert browser.get("/admin/rbac/api/who-can/?verb=delete&resource=pods&namespace=ns"
                       ).json()["grants"] == []

    what = browser.get("/admin/rbac/api/what-can/?subject_name=bob").json()
    assert [(g["binding"]["name"], g["rule"]["verbs"], g["namespace"]) for g in what["grants"]] \
        == [("readers", ["get", "list"], "ns")]
    what = browser.get("/admin/rbac/api/what-can/?subject_kind=ServiceAccount&subject_name=ci"
                       "&subject_namespace=ns").json()
    assert [g["binding"]["name"] for g in what["grants"]] == ["readers"]
    assert browser.get("/admin/rbac/api/what-can/?subject_kind=ServiceAccount&subject_name=ci"
                       "&subject_namespace=elsewhere").json()["grants"] == []
    bindings = browser.get("/admin/rbac/api/bindings/?subject_kind=Group&subject_name=devs").json()
    assert [b["name"] for b in bindings["items"]] == ["logs"]
    bindings = browser.get("/admin/rbac/api/bindings/?subject_kind=Group&subject_name=bob").json()
    assert bindings["items"] == []

    page = browser.get("/admin/rbac/who-can/?mode=who&who-verb=list&who-resource=pods"
                       "&who-namespace=ns")
    assert page.status_code == 200 and "readers" in page.text and "bob" in page.text
    page = browser.get("/admin/rbac/who-can/?mode=what&what-subject_kind=Group"
                       "&what-subject_name=devs")
    assert "*/log" in unescape(page.text)
    # the list pages filter with the same FilterSets
    listing = browser.get("/admin/rbac/rolebinding/?subject_kind=ServiceAccount")
    assert "readers" in listing.text
    assert "readers" not in browser.get("/admin/rbac/rolebinding/?subject_kind=Group").text
    assert "logs" in browser.get("/admin/rbac/clusterrolebinding/?subject_name=devs").text

    # staff session only
    assert Browser(app).get("/admin/rbac/api/who-can/?verb=get").status_code == 403
    assert Browser(app, subject=MASTERS).get("/admin/rbac/api/bindings/").status_code == 403
    assert Browser(app).get("/admin/rbac/who-can/").status_code == 302
