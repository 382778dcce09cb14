"""``--authentication-config`` JWT issuers: claim mappings (claims and CEL), claim and user
validation rules, audiences, discoveryURL, reloading, the ``anonymous`` section, and the
start-up errors with upstream's messages (kubernetes/apiserver:pkg/apis/apiserver/
validation/validation.go; strict decoding as kubernetes/kubernetes:pkg/kubeapiserver/
options/authentication.go)."""
from __future__ import annotations

import copy
import json
import time

import pytest

from apiserver.authentication import authn_config
from apiserver.authentication import jwt as oidc
from apiserver.authentication.base import AuthenticationError
from apiserver.authentication.mechanisms import Dependencies
from apiserver.options import Options
from tests.apiserver.authentication.test_oidc_issuer import LocalIssuer

V1BETA1 = "apiserver.config.k8s.io/v1beta1"


@pytest.fixture(scope="module")
def idps(tmp_path_factory):
    d = tmp_path_factory.mktemp("oidc-config")
    a, b = LocalIssuer(d), LocalIssuer(d, kind="EC", path="/tenant-b")
    yield a, b
    a.stop()
    b.stop()


def document(a, b) -> dict:
    return {"apiVersion": V1BETA1, "kind": "AuthenticationConfiguration", "jwt": [
        {"issuer": {"url": a.url, "audiences": ["kubernetes"], "certificateAuthority": a.ca_pem},
         "claimMappings": {"username": {"claim": "email", "prefix": "a:"},
                           "groups": {"claim": "roles", "prefix": "a:"},
                           "uid": {"claim": "sub"}},
         "claimValidationRules": [{"claim": "hd", "requiredValue": "example.com"}]},
        {"issuer": {"url": b.url, "audiences": ["cluster-b", "kubernetes"],
                    "audienceMatchPolicy": "MatchAny", "certificateAuthority": b.ca_pem},
         "claimMappings": {
             "username": {"expression": "'b:' + claims.preferred_username.lowerAscii()"},
             "groups": {"expression": "has(claims.teams) ? claims.teams.map(t, 'b:' + t) : []"},
             "uid": {"expression": "claims.sub"},
             "extra": [{"key": "example.com/tenant", "valueExpression": "claims.tenant"},
                       {"key": "example.com/admin",
                        "valueExpression": "has(claims.admin) && claims.admin ? 'yes' : ''"}]},
         "claimValidationRules": [{"expression": "claims.exp - claims.iat <= 3600",
                                   "message": "token lives too long"}],
         "userValidationRules": [{"expression": "!user.username.startsWith('b:system:')",
                                  "message": "no system users"}]}]}


def write(tmp_path, doc, name="authn.yaml") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return str(path)


def start(path: str):
    auth = oidc.from_options(Dependencies(options=Options(authentication_config=path)))
    for member in auth.current.authenticators:
        assert member.provider.wait_initialized(10), member.provider.last_error
    return auth


def refused(auth, token) -> str:
    with pytest.raises(AuthenticationError) as info:
        auth.authenticate_token(token, ())
    return str(info.value)


@pytest.fixture
def auth(tmp_path, idps):
    authenticator = start(write(tmp_path, document(*idps)))
    yield authenticator
    authenticator.close()


def test_claim_mappings_and_a_required_claim(auth, idps):
    a, _ = idps
    got = auth.authenticate_token(a.token(email="Jo@example.com", roles=["dev"],
                                          hd="example.com"), ()).user
    assert (got.name, got.uid, got.groups) == ("a:Jo@example.com", "user-1", ("a:dev",))
    assert refused(auth, a.token(email="jo@example.com")) == \
        "oidc: required claim hd not present in ID token"
    assert refused(auth, a.token(email="jo@example.com", email_verified=False,
                                 hd="example.com")) == "oidc: email not verified"
    assert refused(auth, a.token(email="x@example.com", hd="example.com", sub=None)) == \
        'oidc: parse uid claim "sub": claim not present'


def test_cel_mappings_rules_and_every_asymmetric_algorithm(auth, idps):
    _, b = idps              # an EC issuer: config issuers accept ES256 without a flag
    got = auth.authenticate_token(b.token(aud="cluster-b", preferred_username="Ann",
                                          teams=["ops", ""], tenant="blue", admin=True), ()).user
    assert (got.name, got.uid, got.groups) == ("b:ann", "user-1", ("b:ops", "b:"))
    assert got.extra == {"example.com/tenant": ["blue"], "example.com/admin": ["yes"]}
    got = auth.authenticate_token(b.token(preferred_username="bo", tenant=["", "x"]), ()).user
    assert got.groups == () and got.extra == {"example.com/tenant": ["x"]}
    now = int(time.time())
    assert refused(auth, b.token(preferred_username="c", tenant="t", iat=now,
                                 exp=now + 7200)) == (
        "oidc: error evaluating claim validation expression: validation expression "
        "'claims.exp - claims.iat <= 3600' failed: token lives too long")
    assert refused(auth, b.token(preferred_username="system:x", tenant="t")) == (
        "oidc: error evaluating user info validation rule: validation expression "
        "'!user.username.startsWith('b:system:')' failed: no system users")
    assert refused(auth, b.token(tenant="t")) == (
        "oidc: error evaluating username claim expression: expression "
        "''b:' + claims.preferred_username.lowerAscii()' resulted in error: no such key: "
        "preferred_username")
    assert refused(auth, b.token(preferred_username="d", tenant=7)) == (
        "oidc: error evaluating extra claim expression: claims.tenant: expression must "
        "return a string or a list of strings")


def test_audiences_match_any(auth, idps):
    _, b = idps
    claims = {"preferred_username": "e", "tenant": "t"}
    assert auth.authenticate_token(b.token(aud=["x", "kubernetes"], **claims), ()).user.name \
        == "b:e"
    assert refused(auth, b.token(aud="elsewhere", **claims)) == (
        'oidc: verify token: oidc: expected audience in ["cluster-b" "kubernetes"] got '
        '["elsewhere"]')


def test_tokens_go_to_the_issuer_they_name(auth, idps):
    a, b = idps
    assert auth.authenticate_token(a.token(iss="https://third.example"), ()) is None
    forged = b.token(iss=a.url, key=b.keys["k1"], preferred_username="f")   # b's key, a's iss
    assert refused(auth, forged).endswith("failed to verify id token signature")


def test_a_discovery_url(tmp_path, idps):
    a, b = idps
    doc = document(a, b)
    doc["jwt"][0]["issuer"]["discoveryURL"] = a.base + a.discovery_path
    auth = start(write(tmp_path, doc))
    assert a.requests[-2:] == [a.discovery_path, "/keys"]
    auth.close()


def test_email_via_cel_needs_email_verified(tmp_path, idps):
    a, b = idps
    doc = document(a, b)
    doc["jwt"][0]["claimMappings"]["username"] = {"expression": "claims.email"}
    with pytest.raises(ValueError, match=r"jwt\[0\]\.claimMappings\.username\.expression: "
                                         r"Invalid value: \"claims.email\": claims"
                                         r"\.email_verified must be used in"):
        start(write(tmp_path, doc))
    doc["jwt"][0]["claimValidationRules"] = [
        {"expression": "claims.?email_verified.orValue(false)"}]
    with pytest.raises(ValueError, match="Syntax error"):      # no optional syntax in celpy
        start(write(tmp_path, doc))
    doc["jwt"][0]["claimValidationRules"] = [
        {"expression": "has(claims.email_verified) && claims.email_verified",
         "message": "verify your email"}]
    auth = start(write(tmp_path, doc))
    assert auth.authenticate_token(a.token(email="v@x.org", email_verified=True), ()).user.name \
        == "v@x.org"
    assert refused(auth, a.token(email="v@x.org")).endswith("failed: verify your email")
    auth.close()


def _mutations(a, b):
    base = lambda: document(a, b)  # noqa: E731

    def at(*keys, value, doc=None):
        doc = doc or base()
        target = doc
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
        return doc

    j0 = ("jwt", 0)
    return [
        (at(*j0, "issuer", "url", value=""), "jwt[0].issuer.url: Required value"),
        (at(*j0, "issuer", "url", value="https://idp.example?x=1"),
         'jwt[0].issuer.url: Invalid value: "https://idp.example?x=1": URL must not contain '
         'a query'),
        (at(*j0, "issuer", "url", value="https://u:p@idp.example"),
         "URL must not contain a username or password"),
        (at(*j0, "issuer", "url", value="https://idp.example#f"), "must not contain a fragment"),
        (at(*j0, "issuer", "discoveryURL", value=a.url + "/"),
         "jwt[0].issuer.discoveryURL: Invalid value: \"%s/\": discoveryURL must be different "
         "from URL" % a.url),
        (at(*j0, "issuer", "audiences", value=[]),
         "jwt[0].issuer.audiences: Required value: at least one jwt[0].issuer.audiences is "
         "required"),
        (at(*j0, "issuer", "audiences", value=["a", "b"]),
         'jwt[0].issuer.audienceMatchPolicy: Invalid value: "": audienceMatchPolicy must be '
         'MatchAny for multiple audiences'),
        (at(*j0, "issuer", "audienceMatchPolicy", value="MatchAll"),
         'jwt[0].issuer.audienceMatchPolicy: Invalid value: "MatchAll": audienceMatchPolicy '
         'must be empty or MatchAny for single audience'),
        (at("jwt", 1, "issuer", "audiences", value=["x", "x"]),
         'jwt[1].issuer.audiences[1]: Duplicate value: "x"'),
        (at(*j0, "issuer", "certificateAuthority", value="junk"),
         'jwt[0].issuer.certificateAuthority: Invalid value: "<omitted>": data does not '
         'contain any valid RSA or ECDSA certificates'),
        (at(*j0, "claimValidationRules", value=[{"claim": "hd", "expression": "true"}]),
         "jwt[0].claimValidationRules[0]: Invalid value: \"hd\": claim and expression can't "
         "both be set"),
        (at(*j0, "claimValidationRules", value=[{}]),
         "jwt[0].claimValidationRules[0]: Required value: claim or expression is required"),
        (at(*j0, "claimValidationRules", value=[{"claim": "hd", "message": "m"}]),
         'jwt[0].claimValidationRules[0].message: Invalid value: "m": may not be specified '
         'when claim is set'),
        (at(*j0, "claimValidationRules", value=[{"claim": "hd"}, {"claim": "hd"}]),
         'jwt[0].claimValidationRules[1].claim: Duplicate value: "hd"'),
        (at(*j0, "claimValidationRules", value=[{"expression": "true", "requiredValue": "x"}]),
         'jwt[0].claimValidationRules[0].requiredValue: Invalid value: "x": may not be '
         'specified when expression is set'),
        (at(*j0, "claimMappings", "username", value={}),
         "jwt[0].claimMappings.username: Required value: claim or expression is required"),
        (at(*j0, "claimMappings", "username", value={"claim": "sub"}),
         "jwt[0].claimMappings.username.prefix: Required value: prefix is required when claim "
         "is set. It can be set to an empty string to disable prefixing"),
        (at(*j0, "claimMappings", "username",
            value={"claim": "sub", "prefix": "", "expression": "claims.sub"}),
         "jwt[0].claimMappings.username: Invalid value: \"\": claim and expression can't both "
         "be set"),
        (at(*j0, "claimMappings", "username", value={"expression": "claims.sub", "prefix": "x"}),
         'jwt[0].claimMappings.username.prefix: Invalid value: "x": may not be specified when '
         'expression is set'),
        (at(*j0, "claimMappings", "username", value={"expression": "claims.("}),
         'jwt[0].claimMappings.username.expression: Invalid value: "claims.(": compilation '
         'failed: ERROR: <input>:1:8: Syntax error'),
        (at(*j0, "claimMappings", "groups", value={"claim": "g"}),
         "jwt[0].claimMappings.groups.prefix: Required value"),
        (at(*j0, "claimMappings", "uid", value={"claim": "sub", "expression": "claims.sub"}),
         "jwt[0].claimMappings.uid: Invalid value: \"\": claim and expression can't both be set"),
        (at(*j0, "claimMappings", "extra", value=[{"key": "foo", "valueExpression": "'x'"}]),
         'jwt[0].claimMappings.extra[0].key: Invalid value: "foo": must be a domain-prefixed '
         'path (such as "acme.io/foo")'),
        (at(*j0, "claimMappings", "extra", value=[{"key": "example.com/Foo",
                                                   "valueExpression": "'x'"}]),
         'jwt[0].claimMappings.extra[0].key: Invalid value: "example.com/Foo": must be '
         'lowercase'),
        (at(*j0, "claimMappings", "extra", value=[{"key": "a.kubernetes.io/x",
                                                   "valueExpression": "'x'"}]),
         "k8s.io, kubernetes.io and their subdomains are reserved for Kubernetes use"),
        (at(*j0, "claimMappings", "extra", value=[{"key": "example.com/a", "valueExpression": "'x'"},
                                                  {"key": "example.com/a", "valueExpression": "'y'"}]),
         'jwt[0].claimMappings.extra[1].key: Duplicate value: "example.com/a"'),
        (at(*j0, "claimMappings", "extra", value=[{"key": "example.com/a"}]),
         "jwt[0].claimMappings.extra[0].valueExpression: Required value"),
        (at(*j0, "claimMappings", "extra", value=[{"key": "example.com/a",
                                                   "valueExpression": "claims.x.url()"}]),
         "undeclared reference to 'url'"),
        (at(*j0, "userValidationRules", value=[{"expression": ""}]),
         "jwt[0].userValidationRules[0].expression: Required value"),
        (at(*j0, "userValidationRules", value=[{"expression": "claims.sub != ''"}]),
         'jwt[0].userValidationRules[0].expression: Invalid value: "claims.sub != \'\'": '
         "compilation failed: ERROR: <input>:1:1: undeclared reference to 'claims'"),
        (at("jwt", 1, "issuer", "url", value=a.url), f'jwt[1].issuer.url: Duplicate value: "{a.url}"'),
        (at("anonymous", value={"enabled": False, "conditions": [{"path": "/livez"}]}),
         'anonymous.conditions: Invalid value: []apiserver.AnonymousAuthCondition{'
         'apiserver.AnonymousAuthCondition{Path:"/livez"}}: enabled should be set to true '
         'when conditions are defined'),
        (at("jwt", value=[copy.deepcopy(base()["jwt"][0]) for _ in range(65)]),
         "jwt: Too many: 65: must have at most 64 items"),
    ]


def test_invalid_configurations_stop_the_start_with_upstreams_messages(tmp_path, idps):
    for doc, message in _mutations(*idps):
        with pytest.raises(ValueError) as info:
            start(write(tmp_path, doc))
        assert str(info.value).startswith("invalid authentication configuration: ")
        assert message in str(info.value), (message, str(info.value))


def test_several_errors_are_listed_together(tmp_path, idps):
    doc = document(*idps)
    doc["jwt"][0]["issuer"]["url"] = "http://a.example"
    doc["jwt"][1]["claimMappings"]["username"] = {}
    with pytest.raises(ValueError) as info:
        start(write(tmp_path, doc))
    assert str(info.value) == (
        'invalid authentication configuration: [jwt[0].issuer.url: Invalid value: '
        '"http://a.example": URL scheme must be https, jwt[1].claimMappings.username: '
        'Required value: claim or expression is required]')


@pytest.mark.parametrize("text, message", [
    ("", "empty config data"),
    ('{"apiVersion": "apiserver.config.k8s.io/v2", "kind": "AuthenticationConfiguration"}',
     'no kind "AuthenticationConfiguration" is registered for version '
     '"apiserver.config.k8s.io/v2"'),
    ('{"apiVersion": "apiserver.config.k8s.io/v1beta1", "kind": "AuthenticationConfiguration",'
     ' "jwt": [{"issuer": {"url": "https://x", "foo": 1}}], "bar": {}}',
     'strict decoding error: unknown field "jwt[0].issuer.foo", unknown field "bar"'),
    ("apiVersion: apiserver.config.k8s.io/v1alpha1\nkind: AuthenticationConfiguration\n"
     "jwt:\n- issuer:\n    url: https://x\n    url: https://y\n",
     'line 6: key "url" already set in map'),
    ('{"apiVersion": "apiserver.config.k8s.io/v1beta1", "kind": "AuthenticationConfiguration",'
     ' "jwt": [{"issuer": {"audiences": "k"}}]}',
     "json: cannot unmarshal string into Go struct field Issuer.jwt.issuer.audiences of type "
     "[]string"),
])
def test_strict_decoding(tmp_path, text, message):
    path = tmp_path / "authn.yaml"
    path.write_text(text)
    with pytest.raises(ValueError) as info:
        start(str(path))
    assert str(info.value).startswith(f'failed to load authentication configuration from '
                                      f'file "{path}": ')
    assert message in str(info.value)


def test_a_missing_file():
    with pytest.raises(ValueError, match=r'file "/nonexistent/authn.yaml": open '
                                         r'/nonexistent/authn.yaml: no such file or directory'):
        start("/nonexistent/authn.yaml")


def test_yaml_and_v1alpha1_and_no_issuers(tmp_path):
    path = tmp_path / "authn.yaml"
    path.write_text("apiVersion: apiserver.config.k8s.io/v1alpha1\n"
                    "kind: AuthenticationConfiguration\n")
    auth = start(str(path))
    assert auth.authenticate_token("anything", ()) is None


def test_the_anonymous_section(tmp_path):
    def paths(section, **flags):
        doc = {"apiVersion": V1BETA1, "kind": "AuthenticationConfiguration"}
        if section is not None:
            doc["anonymous"] = section
        return authn_config.anonymous_paths(Options(authentication_config=write(tmp_path, doc),
                                                    **flags))

    assert authn_config.anonymous_paths(Options()) is None
    assert paths(None) is None
    assert paths({"enabled": False}) == ()
    assert paths({"enabled": True, "conditions": [{"path": "/livez"}, {"path": "/readyz"}]}) \
        == ("/livez", "/readyz")
    assert paths({"enabled": True}) is None
    with pytest.raises(ValueError, match="enabled should be set to true"):
        paths({"enabled": False, "conditions": [{"path": "/livez"}]})
    with pytest.raises(ValueError, match="anonymous: Forbidden: --anonymous-auth flag cannot "
                                         "be set when anonymous field is configured"):
        paths({"enabled": True}, anonymous_auth=False)


def test_a_changed_file_is_reloaded_and_a_bad_one_ignored(tmp_path, idps):
    a, b = idps
    doc = document(a, b)
    path = write(tmp_path, doc)
    auth = start(path)
    auth.check_seconds = 0
    token = a.token(email="r@example.com", hd="example.com")
    assert auth.authenticate_token(token, ()).user.name == "a:r@example.com"
    doc["jwt"][0]["claimMappings"]["username"]["prefix"] = "reloaded:"
    write(tmp_path, doc)
    auth.authenticate_token("not-a-jwt", ())           # notices the change
    for member in auth.current.authenticators:
        assert member.provider.wait_initialized(10)
    assert auth.authenticate_token(token, ()).user.name == "reloaded:r@example.com"
    bad = copy.deepcopy(doc)
    bad["jwt"][0]["issuer"]["url"] = "http://a.example"
    write(tmp_path, bad)
    assert auth.reload() is False
    assert auth.authenticate_token(token, ()).user.name == "reloaded:r@example.com"
    doc["anonymous"] = {"enabled": True}
    write(tmp_path, doc)
    assert auth.reload() is False                       # anonymous may not change
    auth.close()
