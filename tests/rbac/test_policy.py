"""RBAC kinds' hooks: validation messages as upstream ``pkg/apis/rbac/validation``,
defaults, table rows; and their registration by the rbac app."""
from __future__ import annotations

import pytest

from apiserver.runtime.scheme import scheme
from apiserver.registry.context import RequestContext
from rbac.clusterrolebindings import ClusterRoleBindingStrategy
from rbac.clusterroles import ClusterRoleStrategy
from rbac.rolebindings import RoleBindingStrategy
from rbac.roles import RoleStrategy

ROLE, CROLE = RoleStrategy(), ClusterRoleStrategy()
RB, CRB = RoleBindingStrategy(), ClusterRoleBindingStrategy()
G = "rbac.authorization.k8s.io"


def texts(errs):
    return [e.error_text() for e in errs]


def binding(ref_kind="Role", ref_name="r", subjects=None, **ref):
    return {"apiVersion": f"{G}/v1", "kind": "RoleBinding",
            "metadata": {"name": "rb", "namespace": "default",
                         "creationTimestamp": "2024-01-01T00:00:00Z"},
            "roleRef": {"apiGroup": G, "kind": ref_kind, "name": ref_name, **ref},
            "subjects": subjects if subjects is not None else [
                {"kind": "User", "apiGroup": G, "name": "bob"}]}


@pytest.mark.parametrize("plural,kind,namespaced", [
    ("roles", "Role", True), ("rolebindings", "RoleBinding", True),
    ("clusterroles", "ClusterRole", False), ("clusterrolebindings", "ClusterRoleBinding", False)])
def test_registered(plural, kind, namespaced):
    s = scheme.strategy(G, "v1", plural)
    assert (s.kind, s.namespaced, s.name_rule) == (kind, namespaced, "path")
    assert s.schema_name == f"io.k8s.api.rbac.v1.{kind}"


def test_valid_rules():
    rules = [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]},
             {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["a"]}]
    assert ROLE.validate(RequestContext(), {"rules": rules}) == []
    assert CROLE.validate(RequestContext(), {"rules": rules + [{"verbs": ["get"], "nonResourceURLs": ["/x"]}]}) == []
    assert ROLE.validate(RequestContext(), {}) == []


def test_rule_errors():
    assert texts(ROLE.validate(RequestContext(), {"rules": [{}]})) == [
        "rules[0].verbs: Required value: verbs must contain at least one value",
        "rules[0].apiGroups: Required value: resource rules must supply at least one api group",
        "rules[0].resources: Required value: resource rules must supply at least one resource"]
    assert texts(ROLE.validate(RequestContext(), {"rules": [{"verbs": ["get"], "nonResourceURLs": ["/x"]}]})) == [
        'rules[0].nonResourceURLs: Invalid value: []string{"/x"}: namespaced rules cannot '
        "apply to non-resource URLs"]
    assert texts(CROLE.validate(RequestContext(), {"rules": [{"verbs": ["get"], "nonResourceURLs": ["/x"],
                                            "resources": ["pods"]}]})) == [
        'rules[0].nonResourceURLs: Invalid value: []string{"/x"}: rules cannot apply to both '
        "regular resources and non-resource URLs"]
    assert texts(ROLE.validate(RequestContext(), {"rules": [{"verbs": ["get"], "apiGroups": [""],
                                           "resources": ["pods", "secrets"],
                                           "resourceNames": ["a"]}]})) == [
        "rules[0].resourceNames: Required value: resource names cannot apply to multiple "
        "resources"]


def test_aggregation_rule():
    assert CROLE.validate(RequestContext(), {"aggregationRule": {"clusterRoleSelectors": [
        {"matchLabels": {"a": "b"}}]}}) == []
    assert texts(CROLE.validate(RequestContext(), {"aggregationRule": {}})) == [
        "aggregationRule.clusterRoleSelectors: Required value: at least one clusterRoleSelector "
        "required if aggregationRule is non-nil"]


def test_binding_defaults():
    obj = binding(subjects=[{"kind": "User", "name": "bob"}, {"kind": "Group", "name": "g"},
                            {"kind": "ServiceAccount", "name": "sa", "namespace": "ns"}])
    del obj["roleRef"]["apiGroup"]
    RB.default(obj)
    assert obj["roleRef"]["apiGroup"] == G
    assert [s.get("apiGroup") for s in obj["subjects"]] == [G, G, None]
    assert RB.validate(RequestContext(), obj) == []


def test_binding_errors():
    assert texts(RB.validate(RequestContext(), binding("Pod", "", apiGroup="x"))) == [
        'roleRef.apiGroup: Unsupported value: "x": supported values: "rbac.authorization.k8s.io"',
        'roleRef.kind: Unsupported value: "Pod": supported values: "Role", "ClusterRole"',
        "roleRef.name: Required value"]
    assert texts(CRB.validate(RequestContext(), binding("Role"))) == [
        'roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"']
    assert texts(RB.validate(RequestContext(), binding("Role", "a/b"))) == [
        "roleRef.name: Invalid value: \"a/b\": may not contain '/'"]
    subjects = [{"kind": "Robot", "name": "x"}, {"kind": "User", "name": "", "apiGroup": ""},
                {"kind": "ServiceAccount", "name": "Bad_Name", "apiGroup": "x"}]
    got = texts(RB.validate(RequestContext(), binding(subjects=subjects)))
    assert got[0] == ('subjects[0].kind: Unsupported value: "Robot": supported values: '
                      '"ServiceAccount", "User", "Group"')
    assert got[1:4] == ["subjects[1].name: Required value",
                        'subjects[1].name: Invalid value: "": user name cannot be empty',
                        'subjects[1].apiGroup: Unsupported value: "": supported values: '
                        '"rbac.authorization.k8s.io"']
    assert got[4].startswith('subjects[2].name: Invalid value: "Bad_Name": a lowercase RFC 1123')
    assert got[5] == 'subjects[2].apiGroup: Unsupported value: "x": supported values: ""'
    sa = [{"kind": "ServiceAccount", "name": "sa"}]
    assert RB.validate(RequestContext(), binding(subjects=sa)) == []
    assert texts(CRB.validate(RequestContext(), binding("ClusterRole", subjects=sa))) == [
        "subjects[0].namespace: Required value"]


def test_role_ref_is_immutable():
    old = binding()
    assert RB.validate_update(RequestContext(), binding(subjects=[]), old) == []
    assert texts(RB.validate_update(RequestContext(), binding("ClusterRole", "view"), old)) == [
        'roleRef: Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", '
        'Kind:"ClusterRole", Name:"view"}: cannot change roleRef']
    assert texts(CRB.validate_update(RequestContext(), binding("ClusterRole", "a"),
                                     binding("ClusterRole", "b")))[-1].endswith(
        "cannot change roleRef")


def test_columns_and_rows():
    assert [c.name for c in ROLE.columns] == ["Name", "Created At"]
    assert ROLE.columns[1].type == "date"
    assert ROLE.table_row({"metadata": {"name": "r", "creationTimestamp": "2024-01-01T00:00:00Z"}}) \
        == ["r", "2024-01-01T00:00:00Z"]
    assert [(c.name, c.priority) for c in CRB.columns] == [
        ("Name", 0), ("Role", 0), ("Age", 0), ("Users", 1), ("Groups", 1),
        ("ServiceAccounts", 1)]
    obj = binding("ClusterRole", "view", subjects=[
        {"kind": "User", "name": "a"}, {"kind": "User", "name": "b"},
        {"kind": "Group", "name": "g"}, {"kind": "ServiceAccount", "name": "sa",
                                         "namespace": "ns"}])
    row = RB.table_row(obj)
    assert row[:2] == ["rb", "ClusterRole/view"]
    assert row[3:] == ["a, b", "g", "ns/sa"]
    assert RB.table_row(binding(subjects=[]))[3:] == ["", "", ""]
