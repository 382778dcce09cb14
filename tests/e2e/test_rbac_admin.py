"""The Django admin on a real server's HTTPS port: a superuser made with ``manage.py
createsuperuser`` on the server's database logs in with a cookie jar, adds a Role with two
rules, and kubectl and a watch see it; API credentials do not open the admin and the admin's
session does not open the API."""
from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import time
from html import unescape
from urllib.parse import urlencode

import pytest

from conftest import REPO_ROOT
from watch_support import ServerGroup, WatchReader, list_rv, new_namespace

G = "rbac.authorization.k8s.io"
PASSWORD = "e2e-admin-pw-8fd1"
TOKEN = "e2e-rbac-admin-token-1234567"


def manage(group: ServerGroup, *args: str, env: dict | None = None) -> str:
    """``manage.py`` on the group's database (its DATABASE_URL, else its data dir)."""
    e = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "APISERVER_DATA_DIR")}
    e["APISERVER_DATA_DIR"] = str(group.data_dir)
    if group.db_url:
        e["DATABASE_URL"] = group.db_url
    e.update(env or {})
    cp = subprocess.run([sys.executable, "manage.py", *args], cwd=REPO_ROOT, env=e,
                        capture_output=True, text=True, timeout=120)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    return cp.stdout


class CookieBrowser:
    """HTTPS without a client certificate, keeping cookies as a browser does (by name; they
    are all Path=/admin/ and only sent there)."""

    def __init__(self, srv):
        self.srv, self.cookies = srv, {}

    def request(self, method, path, form=None, headers=None, send_cookies=True):
        conn = self.srv.connection(client_cert=False)
        try:
            h = dict(headers or {})
            if send_cookies and self.cookies:
                h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            body = None
            if form is not None:
                body = urlencode(form, doseq=True).encode()
                h.update({"Content-Type": "application/x-www-form-urlencoded",
                          "Origin": self.srv.url, "Referer": self.srv.url + path})
            conn.request(method, path, body=body, headers=h)
            resp = conn.getresponse()
            data = resp.read()
            for name, value in resp.getheaders():
                if name.lower() == "set-cookie":
                    key, _, rest = value.partition("=")
                    self.cookies[key] = rest.split(";", 1)[0]
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data.decode()
        finally:
            conn.close()

    @staticmethod
    def csrf(page: str) -> str:
        return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)

    def submit(self, path, fields):
        status, _, page = self.request("GET", path)
        assert status == 200, page[:500]
        return self.request("POST", path, {"csrfmiddlewaretoken": self.csrf(page), **fields})


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("rbac-admin")
    (d / "tokens.csv").write_text(f"{TOKEN},tina,uid-tina,dev\n")
    group = ServerGroup()
    try:
        # anonymous requests only reach the health paths (the default under AlwaysAllow)
        srv = group.start("--token-auth-file", str(d / "tokens.csv"))
        manage(group, "createsuperuser", "--noinput", "--username", "root",
               "--email", "root@example.com", env={"DJANGO_SUPERUSER_PASSWORD": PASSWORD})
        yield group, srv
    finally:
        group.stop()


def logged_in(srv) -> CookieBrowser:
    browser = CookieBrowser(srv)
    status, headers, _ = browser.request("GET", "/admin/")
    assert status == 302 and headers["location"].startswith("/admin/login/")
    status, headers, page = browser.submit("/admin/login/?next=/admin/", {
        "username": "root", "password": PASSWORD, "next": "/admin/"})
    assert status == 302 and headers["location"] == "/admin/", page[:1000]
    return browser


def test_a_role_added_in_the_admin_is_served_by_the_api_and_watched(env):
    _, srv = env
    ns = new_namespace(srv)
    rv, _ = list_rv(srv, f"/apis/{G}/v1/namespaces/{ns}/roles")
    watch = WatchReader(srv, f"/apis/{G}/v1/namespaces/{ns}/roles?watch=1&resourceVersion={rv}")
    try:
        browser = logged_in(srv)
        status, headers, page = browser.submit("/admin/rbac/role/add/", {
            "namespace": ns, "name": "pod-reader", "labels": "", "annotations": "",
            "resource_version": "", "_save": "Save",
            "rules-TOTAL_FORMS": 2, "rules-INITIAL_FORMS": 0, "rules-MIN_NUM_FORMS": 0,
            "rules-MAX_NUM_FORMS": 1000,
            "rules-0-verbs": "get, list, watch", "rules-0-api_groups": '""',
            "rules-0-resources": "pods",
            "rules-1-verbs": "get", "rules-1-api_groups": '""', "rules-1-resources": "pods/log"})
        assert status == 302, unescape(page)[:3000]

        cp = srv.kubectl("get", "role", "pod-reader", "-n", ns, "-o", "json")
        role = json.loads(cp.stdout)
        assert role["rules"] == [
            {"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["pods"]},
            {"verbs": ["get"], "apiGroups": [""], "resources": ["pods/log"]}]
        assert int(role["metadata"]["resourceVersion"]) > int(rv)
        assert "pod-reader" in srv.kubectl("get", "roles", "-n", ns).stdout
        assert watch.wait(lambda evs: any(e["type"] == "ADDED" for e in evs))
        # the watch event is the very object the API serves (kubectl's -o json leaves out
        # managedFields)
        assert watch.events[0]["object"] == srv.get_json(
            f"/apis/{G}/v1/namespaces/{ns}/roles/pod-reader")

        # the admin lists what the API wrote, and its who-can API answers from it
        srv.kubectl("create", "rolebinding", "readers", "-n", ns, "--role", "pod-reader",
                    "--user", "bob")
        status, _, listing = browser.request("GET", f"/admin/rbac/rolebinding/?namespace={ns}")
        assert status == 200 and "readers" in listing
        status, _, body = browser.request(
            "GET", f"/admin/rbac/api/who-can/?verb=watch&resource=pods&namespace={ns}")
        assert status == 200
        grants = json.loads(body)["grants"]
        # bob through the new binding, beside the bootstrap policy's cluster-wide grants
        # (cluster-admin to system:masters, the scheduler's and controller manager's roles)
        mine = [g for g in grants if g["subject"]["name"] == "bob"]
        assert len(mine) == 1 and "readers" in json.dumps(mine[0])
        from rbac.bootstrap_controllers import CLUSTER_ROLES as CONTROLLER_ROLES
        controllers = {name.removeprefix("system:controller:") for name in CONTROLLER_ROLES}
        assert {g["subject"]["name"] for g in grants} - {"bob"} <= {
            "system:masters", "system:kube-scheduler", "system:kube-controller-manager",
            "kube-dns", "system:nodes"} | controllers
    finally:
        watch.close()


def test_api_credentials_do_not_open_the_admin(env):
    _, srv = env
    # the admin client certificate (system:masters)
    status, headers, _ = srv.request("GET", "/admin/")
    assert status == 302 and headers["location"].startswith("/admin/login/")
    # a valid bearer token: good for the API, not for the admin
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    status, _, _ = srv.request("GET", "/api/v1/namespaces/default", client_cert=False,
                               headers=bearer)
    assert status in (200, 403)            # authenticated (RBAC decides the rest)
    status, headers, _ = srv.request("GET", "/admin/rbac/role/", client_cert=False,
                                     headers=bearer)
    assert status == 302 and headers["location"].startswith("/admin/login/")


def test_the_admin_session_does_not_open_the_api(env):
    _, srv = env
    browser = logged_in(srv)
    status, _, _ = browser.request("GET", "/admin/")
    assert status == 200
    # the session cookie authenticates nobody: the API sees system:anonymous
    status, _, body = browser.request("GET", "/api/v1/namespaces")
    assert status == 403 and 'User "system:anonymous"' in json.loads(body)["message"], body
    status, _, body = browser.request("GET", f"/apis/{G}/v1/clusterroles")
    assert status == 403 and 'User "system:anonymous"' in json.loads(body)["message"], body


def test_the_admin_pages_and_static_files_load(env):
    _, srv = env
    browser = logged_in(srv)
    status, _, page = browser.request("GET", "/admin/")
    assert status == 200 and "/admin/rbac/who-can/" in page
    css = re.search(r'href="(/admin/static/admin/css/[^"]+\.css)"', page).group(1)
    started = time.monotonic()
    status, headers, _ = browser.request("GET", css)
    assert status == 200 and headers["content-type"].startswith("text/css")
    assert time.monotonic() - started < 5
    status, _, page = browser.request("GET", "/admin/rbac/who-can/?mode=who&who-verb=get"
                                             "&who-resource=pods&who-namespace=default")
    assert status == 200 and "system:masters" in page
    conn = srv.connection(client_cert=False)
    try:
        conn.request("GET", "/admin/static/../../settings.py")
        assert conn.getresponse().status in (400, 404)
    except http.client.HTTPException:
        pass
    finally:
        conn.close()
