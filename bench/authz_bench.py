#!/usr/bin/env python
"""What authorization costs per request with 10,000 RoleBindings and 1,000 ClusterRoles
loaded, next to AlwaysAllow in the same run.

    python bench/authz_bench.py --requests 2000 --reps 3

Two servers from ``manage.py up`` on fresh SQLite data dirs, with the same token file:

* ``AlwaysAllow``: ``--authorization-mode AlwaysAllow``;
* ``RBAC``: ``up``'s default ``Node,RBAC`` with the bootstrap policy plus ``--cluster-roles``
  ClusterRoles (3 rules each) and ``--role-bindings`` RoleBindings spread over
  ``--namespaces`` namespaces, each binding a user of its own to one of those ClusterRoles;
  the bench user is bound (one RoleBinding to the ``view`` ClusterRole) in ``default`` only.

Over one keep-alive HTTPS connection per case, sequential GETs of a ConfigMap in
``default`` with the bench user's token (cached by the token cache), and a GET the bench user
is refused (403, in another namespace, so every binding of the user's keys is visited).
The RBAC share over HTTPS is (GET under RBAC − GET under AlwaysAllow) / GET under RBAC.

In-process, the authorization stage alone: the union ``--authorization-mode Node,RBAC``
builds, over an index loaded with the same number of synthetic roles and bindings, answering
the GET's attributes (ALLOW through the view binding) and a refused one (NO_OPINION after
both modes), against the AlwaysAllow union; divided by the HTTPS GET median.  The project's
target: the RBAC stage under 10 % of a GET.  Figures go to stdout (and --json PATH).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import timeit
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from authn_bench import TOKEN, Server, time_requests  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
G = "rbac.authorization.k8s.io"
TARGET_SHARE = 0.10


def cluster_role(i: int) -> dict:
    return {"metadata": {"name": f"bench-role-{i}"}, "rules": [
        {"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": [f"things{i}"]},
        {"verbs": ["create"], "apiGroups": [f"g{i}.example.com"], "resources": ["widgets"]},
        {"verbs": ["get"], "apiGroups": ["apps"], "resources": ["deployments"],
         "resourceNames": [f"d{i}"]}]}


def role_binding(i: int, namespaces: int, roles: int) -> tuple[str, dict]:
    ns = f"bench-{i % namespaces}"
    return ns, {"metadata": {"name": f"rb-{i}", "namespace": ns},
                "roleRef": {"apiGroup": G, "kind": "ClusterRole",
                            "name": f"bench-role-{i % roles}"},
                "subjects": [{"apiGroup": G, "kind": "User", "name": f"user-{i}"}]}


def load(server: Server, args) -> float:
    """Creates the namespaces, roles and bindings over HTTPS (8 at a time); seconds taken."""
    t0 = time.monotonic()

    def post(path_body):
        path, body = path_body
        status, data = server.request("POST", path, body)
        if status != 201:
            raise RuntimeError(f"POST {path} -> {status}: {data[:200]!r}")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(post, [("/api/v1/namespaces", {"metadata": {"name": f"bench-{n}"}})
                             for n in range(args.namespaces)]))
        list(pool.map(post, [(f"/apis/{G}/v1/clusterroles", cluster_role(i))
                             for i in range(args.cluster_roles)]))
        items = [role_binding(i, args.namespaces, args.cluster_roles)
                 for i in range(args.role_bindings)]
        list(pool.map(post, [(f"/apis/{G}/v1/namespaces/{ns}/rolebindings", body)
                             for ns, body in items]))
    return time.monotonic() - t0


def setup(server: Server) -> None:
    server.request("POST", "/api/v1/namespaces/default/configmaps",
                   {"metadata": {"name": "bench"}, "data": {"k": "v" * 200}})
    status, data = server.request("POST", f"/apis/{G}/v1/namespaces/default/rolebindings", {
        "metadata": {"name": "bench-user-view"},
        "roleRef": {"apiGroup": G, "kind": "ClusterRole", "name": "view"},
        "subjects": [{"apiGroup": G, "kind": "User", "name": "bench-user"}]})
    if status not in (201, 409):
        raise RuntimeError(f"binding -> {status}: {data[:200]!r}")


def wait_allowed(server: Server, path: str, headers: dict, timeout: float = 60) -> None:
    """Until the server's RBAC index has caught up with the new binding."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.request("GET", path, cert=False, headers=headers)[0] == 200:
            return
        time.sleep(0.2)
    raise RuntimeError(f"GET {path} stayed forbidden")




def stage_costs(args, n: int = 20000) -> dict:
    """Seconds per call of the authorization union in-process: AlwaysAllow and Node,RBAC
    over an index holding the synthetic policy, for an allowed and a refused GET."""
    import django
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "apiserver.settings")
    sys.path.insert(0, str(REPO))
    django.setup()
    from apiserver.authentication.user import UserInfo
    from apiserver.authorization.base import (AuthorizationAttributes, Decision, Dependencies,
                                              SystemMasters, Union, build)
    from rbac import bootstrap_policy
    from rbac.authorizer import RBACAuthorizer
    from rbac.index import BINDINGS, CLUSTER_BINDINGS, CLUSTER_ROLES, RBACIndex
    from resources.authorization.modes import node_mode

    index = RBACIndex(None, follow=False)
    with index.lock:
        for role in bootstrap_policy.cluster_roles():
            index.apply(CLUSTER_ROLES, "", role["metadata"]["name"], role)
        index.apply(CLUSTER_ROLES, "", "view", {"rules": [
            {"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["configmaps"]}]})
        for binding in bootstrap_policy.cluster_role_bindings():
            index.apply(CLUSTER_BINDINGS, "", binding["metadata"]["name"], binding)
        for i in range(args.cluster_roles):
            index.apply(CLUSTER_ROLES, "", f"bench-role-{i}", cluster_role(i))
        for i in range(args.role_bindings):
            ns, body = role_binding(i, args.namespaces, args.cluster_roles)
            index.apply(BINDINGS, ns, body["metadata"]["name"], body)
        index.apply(BINDINGS, "default", "bench-user-view", {
            "metadata": {"name": "bench-user-view", "namespace": "default"},
            "roleRef": {"apiGroup": G, "kind": "ClusterRole", "name": "view"},
            "subjects": [{"apiGroup": G, "kind": "User", "name": "bench-user"}]})
    # what build(("Node", "RBAC"), deps) makes, with this index (the Node graph is never
    # loaded: the bench user is no node)
    rbac_union = Union([SystemMasters(), node_mode(Dependencies()), RBACAuthorizer(index)])
    always = build(("AlwaysAllow",))
    user = UserInfo("bench-user", uid="1001", groups=("bench", "system:authenticated"))

    def attrs(namespace):
        return AuthorizationAttributes(
            user=user, verb="get", is_resource_request=True,
            path=f"/api/v1/namespaces/{namespace}/configmaps/bench", namespace=namespace,
            api_version="v1", resource="configmaps", name="bench")
    allowed, refused = attrs("default"), attrs("bench-1")
    assert rbac_union.authorize(allowed)[0] is Decision.ALLOW
    assert rbac_union.authorize(refused)[0] is not Decision.ALLOW
    assert always.authorize(allowed)[0] is Decision.ALLOW
    return {
        "AlwaysAllow": timeit.timeit(lambda: always.authorize(allowed), number=n) / n,
        "Node,RBAC allowed": timeit.timeit(lambda: rbac_union.authorize(allowed), number=n) / n,
        "Node,RBAC refused": timeit.timeit(lambda: rbac_union.authorize(refused), number=n) / n,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--role-bindings", type=int, default=10000)
    ap.add_argument("--cluster-roles", type=int, default=1000)
    ap.add_argument("--namespaces", type=int, default=100)
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    cm = "/api/v1/namespaces/default/configmaps/bench"
    refused_path = "/api/v1/namespaces/bench-1/configmaps/bench"
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    allow, rbac = Server("--authorization-mode", "AlwaysAllow"), Server()
    try:
        setup(allow)
        load_seconds = load(rbac, args)
        setup(rbac)
        wait_allowed(rbac, cm, bearer)
        cases = {"GET, AlwaysAllow": (allow, cm), "GET, Node,RBAC (allowed)": (rbac, cm)}
        for server, path in cases.values():
            time_requests(server, path, 50, False, bearer)
        time_requests(rbac, refused_path, 50, False, bearer, expect=403)
        rounds = {name: [] for name in [*cases, "GET, Node,RBAC (403)"]}
        for _ in range(args.reps):
            for name, (server, path) in cases.items():
                rounds[name].append(time_requests(server, path, args.requests, False, bearer))
            rounds["GET, Node,RBAC (403)"].append(
                time_requests(rbac, refused_path, args.requests, False, bearer, expect=403))
    finally:
        allow.stop()
        rbac.stop()
    med = {name: statistics.median(v) for name, v in rounds.items()}
    print(f"loaded {args.cluster_roles} ClusterRoles and {args.role_bindings} RoleBindings "
          f"in {args.namespaces} namespaces over HTTPS in {load_seconds:.1f} s")
    print(f"{'case':34} {'median µs/request':>18}")
    for name, value in med.items():
        print(f"{name:34} {value * 1e6:18.0f}")
    share = max(0.0, med["GET, Node,RBAC (allowed)"] - med["GET, AlwaysAllow"]) / \
        med["GET, Node,RBAC (allowed)"]
    print(f"\nover HTTPS, RBAC share of an allowed GET {share * 100:5.1f} %  "
          f"{'MET' if share < TARGET_SHARE else 'NOT MET'}")
    stage = stage_costs(args)
    get = med["GET, AlwaysAllow"]
    print()
    for name, seconds in stage.items():
        s = seconds / get
        print(f"authorization stage in-process, {name:20} {seconds * 1e6:6.1f} µs = "
              f"{s * 100:4.1f} % of a GET  {'MET' if s < TARGET_SHARE else 'NOT MET'}")
    if args.json:
        Path(args.json).write_text(json.dumps({"median_seconds": med, "https_share": share,
                                               "stage_seconds": stage,
                                               "load_seconds": load_seconds}, indent=2))


if __name__ == "__main__":
    main()
