"""The generic battery (tests/resources/battery) for the rbac.authorization.k8s.io kinds."""
from __future__ import annotations

from tests.resources.battery.base import KindBattery
from tests.resources.battery.test_core import _set

G = "rbac.authorization.k8s.io"
RULE = {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}


class _RoleBattery(KindBattery):
    group = G

    def valid(self, name):
        return {"metadata": {"name": name}, "rules": [RULE]}

    def invalid(self):
        v = self.valid
        return [(_set(v("no-verbs"), "rules", [{"apiGroups": [""], "resources": ["pods"]}]),
                 "rules[0].verbs"),
                (_set(v("no-groups"), "rules", [{"verbs": ["get"], "resources": ["pods"]}]),
                 "rules[0].apiGroups")]


class TestRole(_RoleBattery):
    resource = "roles"

    def invalid(self):
        v = self.valid
        # nonResourceURLs only make sense cluster-wide
        return super().invalid() + [
            (_set(v("urls"), "rules", [{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]),
             "rules[0].nonResourceURLs")]


class TestClusterRole(_RoleBattery):
    resource = "clusterroles"


class _BindingBattery(KindBattery):
    group = G
    role_kind = "Role"

    def valid(self, name):
        return {"metadata": {"name": name},
                "roleRef": {"apiGroup": G, "kind": self.role_kind, "name": "reader"},
                "subjects": [{"kind": "User", "apiGroup": G, "name": "alice"}]}

    def invalid(self):
        v = self.valid
        return [(_set(v("bad-kind"), "roleRef.kind", "Policy"), "roleRef.kind"),
                (_set(v("no-role-name"), "roleRef.name", None), "roleRef.name"),
                (_set(v("bad-subject"), "subjects", [{"kind": "Robot", "name": "r2"}]),
                 "subjects[0].kind")]


class TestRoleBinding(_BindingBattery):
    resource = "rolebindings"


class TestClusterRoleBinding(_BindingBattery):
    resource = "clusterrolebindings"
    role_kind = "ClusterRole"

    def invalid(self):
        v = self.valid
        return super().invalid() + [
            (_set(v("role-ref"), "roleRef.kind", "Role"), "roleRef.kind"),
            (_set(v("sa-no-ns"), "subjects", [{"kind": "ServiceAccount", "name": "builder"}]),
             "subjects[0].namespace")]
