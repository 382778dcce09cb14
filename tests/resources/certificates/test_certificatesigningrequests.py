"""CertificateSigningRequests: requestor fields, validation messages, the three write paths
(main resource, /status, /approval), the table and the field selector."""
from __future__ import annotations

import copy

import orjson
import pytest

from apiserver.authentication.user import UserInfo
from apiserver.registry.context import RequestContext
from apiserver.runtime import errors
from resources.certificates.certificatesigningrequests import condition_text
from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import ASGIClient, in_process_app
from tests.resources.certificates.support import (KUBELET_CLIENT, approved, b64, csr_object,
                                                  csr_pem, self_signed_pem)

GROUP, VERSION, PLURAL = "certificates.k8s.io", "v1", "certificatesigningrequests"
PATH = "/apis/certificates.k8s.io/v1/certificatesigningrequests"


@pytest.fixture
def store(stores):
    ensure_revision_row()
    return stores.store(GROUP, VERSION, PLURAL)


def sub(ctx, name):
    return ctx.for_subresource(name)


def invalid(store, ctx, obj) -> errors.Invalid:
    with pytest.raises(errors.Invalid) as exc:
        store.create(None, obj, ctx)
    return exc.value


def messages(err: errors.Invalid) -> list[str]:
    return [f"{c.field}: {c.message}" for c in err.causes]


# ---- create ---------------------------------------------------------------------------------

def test_requestor_fields_come_from_the_user_and_status_starts_empty(store):
    user = UserInfo("alice", uid="u-1", groups=("devs", "system:authenticated"),
                    extra={"scopes": ("a", "b")})
    ctx = RequestContext(user=user, field_manager="tests")
    obj = csr_object("mine")
    obj["spec"].update(username="mallory", uid="x", groups=["system:masters"], extra={"k": ["v"]})
    obj["status"] = approved({})["status"]
    created = orjson.loads(store.create(None, obj, ctx))
    spec = created["spec"]
    assert spec["username"] == "alice" and spec["uid"] == "u-1"
    assert spec["groups"] == ["devs", "system:authenticated"]
    assert spec["extra"] == {"scopes": ["a", "b"]}
    assert created["status"] == {}
    assert "namespace" not in created["metadata"]


def test_requestor_without_uid_or_extra_leaves_them_out(store, ctx):
    spec = orjson.loads(store.create(None, csr_object("plain"), ctx))["spec"]
    assert spec["username"] == "tester" and spec["groups"] == ["system:masters"]
    assert "uid" not in spec and "extra" not in spec


def test_request_must_be_a_pem_certificate_request(store, ctx):
    obj = csr_object("none")
    del obj["spec"]["request"]
    err = invalid(store, ctx, obj)
    assert err.message == ('CertificateSigningRequest.certificates.k8s.io "none" is invalid: '
                           'spec.request: Invalid value: []byte(nil): PEM block type must be '
                           'CERTIFICATE REQUEST')
    err = invalid(store, ctx, csr_object("cert", self_signed_pem()))
    assert "PEM block type must be CERTIFICATE REQUEST" in messages(err)[0]
    assert messages(err)[0].startswith("spec.request: Invalid value: []byte{0x2d, 0x2d")


def test_request_signature_must_verify(store, ctx):
    pem = bytearray(csr_pem())
    text = pem.decode()
    body = "".join(text.splitlines()[1:-1])
    import base64
    der = bytearray(base64.b64decode(body))
    der[-3] ^= 0x01                                     # inside the signature
    tampered = ("-----BEGIN CERTIFICATE REQUEST-----\n" + base64.b64encode(bytes(der)).decode()
                + "\n-----END CERTIFICATE REQUEST-----\n").encode()
    err = invalid(store, ctx, csr_object("tampered", tampered))
    assert [c.field for c in err.causes] == ["spec.request"]
    assert err.causes[0].message.endswith(
        ("x509: ECDSA verification failure", "x509: malformed certificate request"))


def test_usages_required_known_and_unique(store, ctx):
    err = invalid(store, ctx, csr_object("no-usages", usages=()))
    assert messages(err) == ["spec.usages: Required value"]
    err = invalid(store, ctx, csr_object("odd", usages=("client auth", "flying", "client auth")))
    assert messages(err)[0].startswith('spec.usages[1]: Unsupported value: "flying": supported '
                                       'values: "any", "cert sign", "client auth", ')
    assert messages(err)[0].endswith('"server auth", "signing", "timestamping"')
    assert messages(err)[1] == 'spec.usages[2]: Duplicate value: "client auth"'


@pytest.mark.parametrize("signer,expected", [
    ("", "spec.signerName: Required value"),
    ("example.com", "spec.signerName: Invalid value: \"example.com\": must be a fully "
                    "qualified domain and path of the form 'example.com/signer-name'"),
    ("example/signer", 'spec.signerName: Invalid value: "example": should be a domain with at '
                       'least two segments separated by dots'),
    ("Example.com/signer", 'spec.signerName: Invalid value: "Example.com": validating label '
                           '"Example": a lowercase RFC 1123 label must consist of lower case '
                           "alphanumeric characters or '-', and must start and end with an "
                           "alphanumeric character (e.g. 'my-name',  or '123-abc', regex used "
                           "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"),
    ("kubernetes.io/legacy-unknown", 'spec.signerName: Invalid value: '
                                     '"kubernetes.io/legacy-unknown": the legacy signerName is '
                                     'not allowed via this API version'),
])
def test_signer_name(store, ctx, signer, expected):
    err = invalid(store, ctx, csr_object("signer", signer=signer))
    assert expected in messages(err)


def test_expiration_seconds_at_least_ten_minutes(store, ctx):
    err = invalid(store, ctx, csr_object("short", expiration=599))
    assert messages(err) == ["spec.expirationSeconds: Invalid value: 599: may not specify a "
                             "duration less than 600 seconds (10 minutes)"]
    store.create(None, csr_object("ten", expiration=600), ctx)


def test_any_name_is_accepted(store, ctx):
    created = orjson.loads(store.create(None, csr_object("node-csr:Xyz_1"), ctx))
    assert created["metadata"]["name"] == "node-csr:Xyz_1"


# ---- the main resource --------------------------------------------------------------------

def test_main_resource_updates_keep_spec_and_status(store, ctx):
    created = orjson.loads(store.create(None, csr_object("keep"), ctx))
    new = copy.deepcopy(created)
    new["metadata"]["labels"] = {"a": "b"}
    new["spec"]["usages"] = ["server auth"]
    approved(new)
    new["status"]["certificate"] = b64(self_signed_pem())
    doc, _ = store.update(None, "keep", new, ctx)
    got = orjson.loads(doc)
    assert got["metadata"]["labels"] == {"a": "b"}
    assert got["spec"] == created["spec"] and got["status"] == {}


# ---- /approval ------------------------------------------------------------------------------

def test_approval_changes_conditions_only(store, ctx):
    created = orjson.loads(store.create(None, csr_object("approve-me"), ctx))
    new = approved(copy.deepcopy(created))
    new["spec"]["usages"] = ["server auth"]
    new["status"]["certificate"] = b64(self_signed_pem())
    doc, _ = store.update(None, "approve-me", new, sub(ctx, "approval"))
    got = orjson.loads(doc)
    assert got["spec"] == created["spec"]
    assert "certificate" not in got["status"]
    [cond] = got["status"]["conditions"]
    assert cond["type"] == "Approved" and cond["status"] == "True"
    assert cond["lastUpdateTime"] and cond["lastTransitionTime"]
    assert condition_text(got) == "Approved"


def test_approval_rules(store, ctx):
    created = orjson.loads(store.create(None, csr_object("rules"), ctx))
    both = approved(approved(copy.deepcopy(created)), "Denied")
    with pytest.raises(errors.Invalid) as exc:
        store.update(None, "rules", both, sub(ctx, "approval"))
    assert messages(exc.value) == ['status.conditions[1].type: Invalid value: "Denied": Approved '
                                   'and Denied conditions are mutually exclusive']
    false = approved(copy.deepcopy(created))
    false["status"]["conditions"][0]["status"] = "False"
    with pytest.raises(errors.Invalid) as exc:
        store.update(None, "rules", false, sub(ctx, "approval"))
    assert messages(exc.value) == ['status.conditions[0].status: Unsupported value: "False": '
                                   'supported values: "True"']
    twice = approved(approved(copy.deepcopy(created)))
    with pytest.raises(errors.Invalid) as exc:
        store.update(None, "rules", twice, sub(ctx, "approval"))
    assert messages(exc.value) == ['status.conditions[1].type: Duplicate value: "Approved"']
    done, _ = store.update(None, "rules", approved(copy.deepcopy(created)), sub(ctx, "approval"))
    removed = orjson.loads(done)
    removed["status"]["conditions"] = []
    with pytest.raises(errors.Invalid) as exc:
        store.update(None, "rules", removed, sub(ctx, "approval"))
    assert messages(exc.value) == ['status.conditions: Forbidden: updates may not remove a '
                                   'condition of type "Approved"']


# ---- /status --------------------------------------------------------------------------------

def test_status_writes_may_not_approve(store, ctx):
    created = orjson.loads(store.create(None, csr_object("self-approve"), ctx))
    with pytest.raises(errors.Invalid) as exc:
        store.update(None, "self-approve", approved(copy.deepcopy(created)), sub(ctx, "status"))
    assert messages(exc.value) == ['status.conditions: Forbidden: updates may not add a '
                                   'condition of type "Approved"']


def test_status_writes_keep_the_approval_and_the_spec(store, ctx):
    store.create(None, csr_object("kept"), ctx)
    cur = orjson.loads(store.get(None, "kept"))
    store.update(None, "kept", approved(cur), sub(ctx, "approval"))
    cur = orjson.loads(store.get(None, "kept"))
    approval = copy.deepcopy(cur["status"]["conditions"][0])
    cur["status"]["conditions"][0]["message"] = "rewritten"
    cur["status"]["conditions"].append({"type": "Failed", "status": "True", "reason": "Nope"})
    cur["spec"]["usages"] = ["server auth"]
    doc, _ = store.update(None, "kept", cur, sub(ctx, "status"))
    got = orjson.loads(doc)
    assert got["status"]["conditions"][0] == approval
    assert got["status"]["conditions"][1]["lastUpdateTime"]
    assert got["spec"]["usages"] == ["client auth"]
    assert condition_text(got) == "Approved,Failed"


def test_certificate_only_after_approval_and_only_once(store, ctx):
    created = orjson.loads(store.create(None, csr_object("issue"), ctx))
    early = copy.deepcopy(created)
    early["status"]["certificate"] = b64(self_signed_pem())
    with pytest.raises(errors.Invalid) as exc:
        store.update(None, "issue", early, sub(ctx, "status"))
    assert [c.field for c in exc.value.causes] == ["status.certificate"]
    store.update(None, "issue", approved(copy.deepcopy(created)), sub(ctx, "approval"))
    cur = orjson.loads(store.get(None, "issue"))
    cur["status"]["certificate"] = b64(b"not a certificate")
    with pytest.raises(errors.Invalid) as exc:
        store.update(None, "issue", cur, sub(ctx, "status"))
    assert messages(exc.value) == ['status.certificate: Invalid value: "<certificate data>": '
                                   'must contain at least one CERTIFICATE PEM block']
    cur["status"]["certificate"] = b64(csr_pem())
    with pytest.raises(errors.Invalid) as exc:
        store.update(None, "issue", cur, sub(ctx, "status"))
    assert messages(exc.value) == ['status.certificate: Invalid value: "<certificate data>": only '
                                   'CERTIFICATE PEM blocks are allowed, found "CERTIFICATE REQUEST"']
    cur["status"]["certificate"] = b64(self_signed_pem())
    doc, _ = store.update(None, "issue", copy.deepcopy(cur), sub(ctx, "status"))
    assert condition_text(orjson.loads(doc)) == "Approved,Issued"
    cur = orjson.loads(doc)
    cur["status"]["certificate"] = b64(self_signed_pem("other"))
    with pytest.raises(errors.Invalid) as exc:
        store.update(None, "issue", cur, sub(ctx, "status"))
    assert messages(exc.value) == ["status.certificate: Forbidden: updates may not modify "
                                   "existing certificate content"]


# ---- table and field selector -----------------------------------------------------------------

def test_table_row_and_columns(store, ctx):
    s = store.strategy
    assert [c.name for c in s.columns] == ["Name", "Age", "SignerName", "Requestor",
                                           "RequestedDuration", "Condition"]
    assert all(c.priority == 0 for c in s.columns)
    assert s.columns[2].description.startswith("signerName indicates the requested signer")
    obj = orjson.loads(store.create(None, csr_object("row", expiration=3600), ctx))
    row = s.table_row(obj)
    assert row[0] == "row" and row[2:] == ["kubernetes.io/kube-apiserver-client", "tester",
                                           "60m", "Pending"]
    days = orjson.loads(store.create(None, csr_object("row2", expiration=86400 * 2), ctx))
    assert s.table_row(days)[4] == "2d"
    plain = orjson.loads(store.create(None, csr_object("row3"), ctx))
    assert s.table_row(plain)[4] == "<none>"
    assert condition_text({"status": {"conditions": [{"type": "Denied"}, {"type": "Failed"}]}}) \
        == "Denied,Failed"


def test_field_selector_on_signer_name(store, ctx):
    store.create(None, csr_object("client"), ctx)
    store.create(None, csr_object("kubelet", signer=KUBELET_CLIENT,
                                  usages=("client auth", "digital signature")), ctx)
    page = store.list(None, field_selector=f"spec.signerName={KUBELET_CLIENT}")
    assert [orjson.loads(d)["metadata"]["name"] for d in page["items"]] == ["kubelet"]
    with pytest.raises(errors.BadRequest):
        store.list(None, field_selector="spec.username=tester")


# ---- over HTTP --------------------------------------------------------------------------------

def test_http_approval_subresource(db):
    ensure_revision_row()
    _, app = in_process_app()
    client = ASGIClient(app)
    resp = client.post(PATH, csr_object("http"))
    assert resp.status_code == 201, resp.content
    created = resp.json()
    assert created["spec"]["username"] == "tester"
    got = client.get(f"{PATH}/http/approval")
    assert got.status_code == 200 and got.json()["metadata"]["name"] == "http"
    resp = client.put(f"{PATH}/http/approval", approved(copy.deepcopy(created)))
    assert resp.status_code == 200, resp.content
    assert resp.json()["status"]["conditions"][0]["type"] == "Approved"
    patch = {"status": {"conditions": [{"type": "Approved", "status": "True"},
                                       {"type": "Denied", "status": "True"}]}}
    resp = client.patch(f"{PATH}/http/approval", patch, "application/merge-patch+json")
    assert resp.status_code == 422
    assert "Approved and Denied conditions are mutually exclusive" in resp.json()["message"]
    resp = client.delete(f"{PATH}/http/approval")
    assert resp.status_code == 405
    table = client.get(PATH, headers={"accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
    assert table.status_code == 200
    assert [c["name"] for c in table.json()["columnDefinitions"]][-1] == "Condition"
    assert table.json()["rows"][0]["cells"][-1] == "Approved"
