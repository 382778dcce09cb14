"""The ABAC mode: policy lines (v1beta1 and unversioned v0), every field and wildcard,
readonly, non-resource path prefixes, load errors naming the line, and ``rules_for``."""
from __future__ import annotations

import json

import pytest

from apiserver.authentication.user import UserInfo
from apiserver.authorization.abac import (ABACAuthorizer, Policy, PolicyLoadError,
                                          load_file, parse_line, parse_policies)
from apiserver.authorization.base import AuthorizationAttributes, Decision

ALICE = UserInfo("alice", groups=("dev", "system:authenticated"))
BOB = UserInfo("bob", groups=("ops", "system:authenticated"))
ANON = UserInfo("system:anonymous", groups=("system:unauthenticated",))


def line(**spec) -> str:
    return json.dumps({"apiVersion": "abac.authorization.kubernetes.io/v1beta1",
                       "kind": "Policy", "spec": spec})


def authz(*lines) -> ABACAuthorizer:
    return ABACAuthorizer(parse_policies(lines, "policy.jsonl"))


def res(user, verb="get", namespace="ns1", resource="pods", group="", name=""):
    return AuthorizationAttributes(user=user, verb=verb, is_resource_request=True,
                                   namespace=namespace, resource=resource, api_group=group,
                                   name=name, path=f"/api/v1/namespaces/{namespace}/{resource}")


def nonres(user, path, verb="get"):
    return AuthorizationAttributes(user=user, verb=verb, is_resource_request=False, path=path)


def allowed(a: ABACAuthorizer, attrs) -> bool:
    decision, reason = a.authorize(attrs)
    assert decision in (Decision.ALLOW, Decision.NO_OPINION)     # ABAC never denies
    if decision is Decision.NO_OPINION:
        assert reason == "No policy matched."
    return decision is Decision.ALLOW


# ---------------------------------------------------------------- subjects

def test_user_must_match_exactly():
    a = authz(line(user="alice", namespace="*", resource="*", apiGroup="*"))
    assert allowed(a, res(ALICE))
    assert not allowed(a, res(BOB))


def test_group_must_be_one_of_the_users_groups():
    a = authz(line(group="ops", namespace="*", resource="*", apiGroup="*"))
    assert allowed(a, res(BOB))
    assert not allowed(a, res(ALICE))


def test_user_and_group_must_both_match_when_both_are_set():
    a = authz(line(user="alice", group="ops", namespace="*", resource="*", apiGroup="*"))
    assert not allowed(a, res(ALICE))
    assert not allowed(a, res(BOB))
    a = authz(line(user="alice", group="dev", namespace="*", resource="*", apiGroup="*"))
    assert allowed(a, res(ALICE))


def test_star_user_or_group_means_authenticated_users_only():
    for spec in ({"user": "*"}, {"group": "*"}):
        a = authz(line(namespace="*", resource="*", apiGroup="*", **spec))
        assert a.policies[0].user == "" and a.policies[0].group == "system:authenticated"
        assert allowed(a, res(ALICE))
        assert not allowed(a, res(ANON))
        assert not allowed(a, res(UserInfo("nogroups")))


def test_unauthenticated_users_need_their_group_named():
    a = authz(line(group="system:unauthenticated", readonly=True, nonResourcePath="*"))
    assert allowed(a, nonres(ANON, "/healthz"))
    assert not allowed(a, nonres(ALICE, "/healthz"))


def test_a_policy_with_no_subject_matches_nobody():
    a = authz(line(namespace="*", resource="*", apiGroup="*", nonResourcePath="*"))
    assert not allowed(a, res(ALICE))
    assert not allowed(a, nonres(ALICE, "/version"))


# ---------------------------------------------------------------- resources

def test_namespace_resource_and_api_group_each_match_exactly_or_by_star():
    a = authz(line(user="alice", namespace="ns1", resource="deployments", apiGroup="apps"))
    assert allowed(a, res(ALICE, namespace="ns1", resource="deployments", group="apps"))
    assert not allowed(a, res(ALICE, namespace="ns2", resource="deployments", group="apps"))
    assert not allowed(a, res(ALICE, namespace="ns1", resource="pods", group="apps"))
    assert not allowed(a, res(ALICE, namespace="ns1", resource="deployments", group=""))
    a = authz(line(user="alice", namespace="*", resource="*", apiGroup="*"))
    assert allowed(a, res(ALICE, namespace="x", resource="y", group="z.io"))
    assert allowed(a, res(ALICE, namespace="", resource="nodes"))


def test_empty_fields_match_only_empty_values():
    # no namespace: cluster-scoped requests only; no apiGroup: the core group only
    a = authz(line(user="alice", resource="nodes"))
    assert allowed(a, res(ALICE, namespace="", resource="nodes"))
    assert not allowed(a, res(ALICE, namespace="ns1", resource="nodes"))
    assert not allowed(a, res(ALICE, namespace="", resource="nodes", group="x.io"))
    # no resource: no resource request at all
    a = authz(line(user="alice", namespace="*", apiGroup="*"))
    assert not allowed(a, res(ALICE))


def test_a_resource_policy_never_matches_a_non_resource_request_and_back():
    a = authz(line(user="alice", namespace="*", resource="*", apiGroup="*"))
    assert not allowed(a, nonres(ALICE, "/version"))
    a = authz(line(user="alice", nonResourcePath="*"))
    assert allowed(a, nonres(ALICE, "/version"))
    assert not allowed(a, res(ALICE))


def test_readonly_allows_only_get_list_watch():
    a = authz(line(user="alice", namespace="*", resource="*", apiGroup="*", readonly=True))
    for verb in ("get", "list", "watch"):
        assert allowed(a, res(ALICE, verb=verb))
    for verb in ("create", "update", "patch", "delete", "deletecollection", "impersonate"):
        assert not allowed(a, res(ALICE, verb=verb))
    a = authz(line(user="alice", namespace="*", resource="*", apiGroup="*"))
    for verb in ("get", "create", "delete", "escalate"):
        assert allowed(a, res(ALICE, verb=verb))


# ---------------------------------------------------------------- non-resource paths

def test_non_resource_path_exact_star_and_prefix():
    a = authz(line(user="alice", nonResourcePath="/version"))
    assert allowed(a, nonres(ALICE, "/version"))
    assert not allowed(a, nonres(ALICE, "/version/x"))
    a = authz(line(user="alice", nonResourcePath="/foo/*"))
    assert allowed(a, nonres(ALICE, "/foo/"))
    assert allowed(a, nonres(ALICE, "/foo/bar/baz"))
    assert not allowed(a, nonres(ALICE, "/foo"))
    assert not allowed(a, nonres(ALICE, "/foobar"))
    a = authz(line(user="alice", nonResourcePath="/api*"))
    assert allowed(a, nonres(ALICE, "/apis"))
    a = authz(line(user="alice", nonResourcePath="*", readonly=True))
    assert allowed(a, nonres(ALICE, "/anything"))
    assert not allowed(a, nonres(ALICE, "/anything", verb="post"))


def test_first_matching_policy_of_many_allows():
    a = authz(line(user="bob", namespace="*", resource="*", apiGroup="*"),
              line(user="alice", namespace="ns1", resource="pods", readonly=True),
              line(group="dev", nonResourcePath="/healthz"))
    assert allowed(a, res(ALICE, verb="list"))
    assert not allowed(a, res(ALICE, verb="create"))
    assert allowed(a, nonres(ALICE, "/healthz"))
    assert allowed(a, res(BOB, verb="delete", namespace="x", resource="secrets"))


# ---------------------------------------------------------------- unversioned (v0) lines

def test_v0_line_defaults():
    p = parse_line('{"user": "alice"}')
    assert p == Policy(user="alice", namespace="*", resource="*", api_group="*",
                       non_resource_path="*")
    p = parse_line('{"user": "alice", "namespace": "ns1", "readonly": true}')
    assert p == Policy(user="alice", readonly=True, namespace="ns1", resource="*",
                       api_group="*")


def test_v0_without_subject_or_with_star_means_every_authenticated_user():
    for text in ('{"readonly": true}', '{"user": "*"}', '{"group": "*", "user": "bob"}'):
        p = parse_line(text)
        assert (p.user, p.group) == ("", "system:authenticated"), text
    a = authz('{"resource": "pods"}')
    assert allowed(a, res(ALICE, verb="create", namespace="any", group="whatever"))
    assert not allowed(a, res(ANON))
    assert not allowed(a, nonres(ALICE, "/version"))     # a resource is named: no paths


def test_v0_with_kind_but_no_version_and_explicit_v0():
    assert parse_line('{"kind": "Policy", "user": "alice"}').user == "alice"
    p = parse_line('{"apiVersion": "abac.authorization.kubernetes.io/v0", "kind": "Policy", '
                   '"group": "ops", "resource": "pods"}')
    assert p == Policy(group="ops", namespace="*", resource="pods", api_group="*")


# ---------------------------------------------------------------- the file

def test_blank_and_comment_lines_are_skipped_and_errors_name_the_line(tmp_path):
    path = tmp_path / "policy.jsonl"
    path.write_text("# users\n\n   \n" + line(user="alice", nonResourcePath="*") + "\n"
                    "  # indented comment\n" + '{"apiVersion": "abac.authorization.kubernetes.io/'
                    'v1beta1", "kind": "Policy", "spec": {"user": "bob", "readonly": "yes"}}\n')
    with pytest.raises(PolicyLoadError) as exc:
        load_file(str(path))
    message = str(exc.value)
    assert exc.value.line == 6
    assert message.startswith(f"error reading policy file {path}, line 6: "
                              '{"apiVersion": "abac.authorization.kubernetes.io/v1beta1"')
    assert message.endswith("json: cannot unmarshal string into Go struct field "
                            "Policy.spec.readonly of type bool")
    path.write_text("# only one\n" + line(user="alice", nonResourcePath="*") + "\n")
    assert [p.user for p in load_file(str(path))] == ["alice"]


@pytest.mark.parametrize("text, error", [
    ("{not json", "line 2: {not json: "),
    ('["a"]', "cannot unmarshal array into Go value of type struct"),
    ('{"apiVersion": "abac.authorization.kubernetes.io/v1beta1", "kind": "Rule"}',
     'no kind "Rule" is registered for version "abac.authorization.kubernetes.io/v1beta1"'),
    ('{"apiVersion": "v1", "kind": "Policy"}', 'no kind "Policy" is registered for version "v1"'),
    ('{"apiVersion": "abac.authorization.kubernetes.io/v1beta1", "kind": "Policy", "spec": 3}',
     "cannot unmarshal number into Go struct field Policy.spec"),
    ('{"user": 7}', "cannot unmarshal number into Go struct field Policy.user of type string"),
])
def test_bad_lines(text, error):
    with pytest.raises(PolicyLoadError) as exc:
        parse_policies(["", text], "f")
    assert exc.value.line == 2
    assert str(exc.value).startswith(f"error reading policy file f, line 2: {text}: ")
    assert error in str(exc.value)


def test_missing_file_and_missing_flag(tmp_path):
    with pytest.raises(PolicyLoadError, match="error reading policy file .*/nope: open "):
        load_file(str(tmp_path / "nope"))
    with pytest.raises(ValueError, match="policy file not passed"):
        ABACAuthorizer.from_file("")


def test_v1beta1_without_kind_is_still_v1beta1():
    p = parse_line('{"apiVersion": "abac.authorization.kubernetes.io/v1beta1", '
                   '"spec": {"user": "alice", "resource": "pods"}}')
    assert (p.user, p.group, p.resource, p.namespace) == ("alice", "", "pods", "")


# ---------------------------------------------------------------- rules_for

def test_rules_for_lists_the_users_policies_in_the_namespace():
    a = authz(line(user="alice", namespace="ns1", resource="pods", apiGroup="", readonly=True),
              line(user="alice", namespace="*", resource="*", apiGroup="apps"),
              line(user="alice", namespace="ns2", resource="secrets"),
              line(group="dev", nonResourcePath="/logs/*"),
              line(user="bob", namespace="*", resource="*", apiGroup="*"))
    resource, non_resource, incomplete = a.rules_for(ALICE, "ns1")
    assert resource == [{"verbs": ["get", "list", "watch"], "apiGroups": [""],
                         "resources": ["pods"]},
                        {"verbs": ["*"], "apiGroups": ["apps"], "resources": ["*"]}]
    assert non_resource == []     # the path policy names no namespace: only "" lists it
    assert incomplete is False
    _, non_resource, _ = a.rules_for(ALICE, "")
    assert non_resource == [{"verbs": ["*"], "nonResourceURLs": ["/logs/*"]}]
