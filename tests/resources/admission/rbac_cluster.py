"""An in-process server with the RBAC authorizer (after system:masters) and chosen admission
plugins, an admin client and ``bob`` (group ``dev``), and ``grant`` to bind bob more rules:
the real authorizer the Certificate* plugins ask."""
from __future__ import annotations

from apiserver.authorization import base
from rbac.authorizer import RBACAuthorizer
from rbac.index import RBACIndex
from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import ASGIClient, in_process_app

G = "rbac.authorization.k8s.io"
BOB = (("commonName", "bob"), ("organizationName", "dev"))


def rule(verbs, resources, group="", names=()):
    out = {"verbs": list(verbs), "apiGroups": [group], "resources": list(resources)}
    if names:
        out["resourceNames"] = list(names)
    return out


class Cluster:
    def __init__(self, plugins):
        ensure_revision_row()
        self.index = RBACIndex(None, follow=False)
        self.completed, app = in_process_app(
            admission_plugins=tuple(plugins),
            authorizer=base.Union([base.SystemMasters(), RBACAuthorizer(self.index)]))
        self.index.stores = self.completed.stores
        self.admin, self.bob = ASGIClient(app), ASGIClient(app, subject=BOB)
        self.count = 0

    @property
    def stores(self):
        return self.completed.stores

    def grant(self, *rules):
        """A ClusterRole of ``rules`` bound cluster-wide to bob's group."""
        self.count += 1
        name = f"r{self.count}"
        assert self.admin.post(f"/apis/{G}/v1/clusterroles", {
            "metadata": {"name": name}, "rules": list(rules)}).status_code == 201
        assert self.admin.post(f"/apis/{G}/v1/clusterrolebindings", {
            "metadata": {"name": name},
            "roleRef": {"apiGroup": G, "kind": "ClusterRole", "name": name},
            "subjects": [{"kind": "Group", "apiGroup": G, "name": "dev"}]}).status_code == 201
        self.index.sync()
