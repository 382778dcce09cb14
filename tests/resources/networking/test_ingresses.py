"""Ingress: status and generation, validation messages as upstream renders them, the table.

Cases after kubernetes/kubernetes:pkg/apis/networking/validation/validation_test.go
(TestValidateIngressCreate, TestValidateIngressRuleValue, TestValidateIngressTLS) and
pkg/printers/internalversion/printers_test.go (TestPrintIngress).
"""
from __future__ import annotations

import copy

import orjson
import pytest

from apiserver.runtime import errors
from resources.networking.ingresses import IngressStrategy, format_hosts
from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import ASGIClient, in_process_app

BACKEND = {"service": {"name": "web", "port": {"number": 80}}}


@pytest.fixture
def ingresses(stores):
    ensure_revision_row()
    return stores.store("networking.k8s.io", "v1", "ingresses")


def ingress(name="web", **spec):
    spec = spec or {"rules": [rule("example.com")]}
    return {"metadata": {"name": name}, "spec": spec}


def rule(host="", path="/", path_type="Prefix", backend=None):
    item = {"path": path, "backend": backend or BACKEND}
    if path_type is not None:
        item["pathType"] = path_type
    out = {"http": {"paths": [item]}}
    if host:
        out["host"] = host
    return out


def invalid(store, ctx, obj) -> errors.Invalid:
    with pytest.raises(errors.Invalid) as exc:
        store.create("default", copy.deepcopy(obj), ctx)
    return exc.value


def causes(err: errors.Invalid) -> dict:
    return {c.field: c.message for c in err.causes}


def test_create_resets_status_and_sets_generation(ingresses, ctx):
    body = ingress()
    body["status"] = {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}
    obj = orjson.loads(ingresses.create("default", body, ctx))
    assert obj["status"] == {"loadBalancer": {}}
    assert obj["metadata"]["generation"] == 1


def test_spec_change_bumps_generation_status_write_does_not(ingresses, ctx):
    ingresses.create("default", ingress(), ctx)

    def add_tls(cur):
        cur["spec"]["tls"] = [{"hosts": ["example.com"], "secretName": "tls"}]
        return cur
    obj = orjson.loads(ingresses.guaranteed_update("default", "web", add_tls, ctx)[0])
    assert obj["metadata"]["generation"] == 2

    def set_status(cur):
        cur["status"] = {"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}]}}
        cur["spec"] = {}                       # ignored by a status write
        return cur
    obj = orjson.loads(ingresses.guaranteed_update("default", "web", set_status,
                                                   ctx.for_subresource("status"))[0])
    assert obj["status"]["loadBalancer"]["ingress"] == [{"ip": "10.0.0.1"}]
    assert obj["spec"]["tls"] and obj["metadata"]["generation"] == 2


def test_status_ip_is_validated(ingresses, ctx):
    ingresses.create("default", ingress(), ctx)

    def bad(cur):
        cur["status"] = {"loadBalancer": {"ingress": [{"ip": "nope"}, {"hostname": "1.2.3.4"}]}}
        return cur
    with pytest.raises(errors.Invalid) as exc:
        ingresses.guaranteed_update("default", "web", bad, ctx.for_subresource("status"))
    assert causes(exc.value) == {
        "status.loadBalancer.ingress[0].ip":
            'Invalid value: "nope": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
        "status.loadBalancer.ingress[1].hostname":
            'Invalid value: "1.2.3.4": must be a DNS name, not an IP address'}


def test_rules_or_default_backend_required(ingresses, ctx):
    err = invalid(ingresses, ctx, {"metadata": {"name": "x"}, "spec": {}})
    assert err.message == ('Ingress.networking.k8s.io "x" is invalid: spec: Invalid value: '
                           "[]networking.IngressRule(nil): either `defaultBackend` or `rules` "
                           "must be specified")


def test_path_type_required_and_enum(ingresses, ctx):
    err = invalid(ingresses, ctx, ingress(rules=[rule(path_type=None)]))
    assert causes(err) == {"spec.rules[0].http.paths[0].pathType":
                           "Required value: pathType must be specified"}
    err = invalid(ingresses, ctx, ingress(rules=[rule(path_type="Regex")]))
    assert causes(err) == {"spec.rules[0].http.paths[0].pathType":
                           'Unsupported value: "Regex": supported values: "Exact", '
                           '"ImplementationSpecific", "Prefix"'}


def test_prefix_and_exact_paths_must_be_absolute_and_clean(ingresses, ctx):
    err = invalid(ingresses, ctx, ingress(rules=[rule(path="foo", path_type="Exact"),
                                                 rule(path="/a//b/..", path_type="Prefix")]))
    assert [(c.field, c.message) for c in err.causes] == [
        ("spec.rules[0].http.paths[0].path", 'Invalid value: "foo": must be an absolute path'),
        ("spec.rules[1].http.paths[0].path", 'Invalid value: "/a//b/..": must not contain \'//\''),
        ("spec.rules[1].http.paths[0].path", 'Invalid value: "/a//b/..": cannot end with \'/..\'')]
    # ImplementationSpecific accepts an empty path
    obj = orjson.loads(ingresses.create("default", ingress(rules=[
        rule(path="", path_type="ImplementationSpecific")]), ctx))
    assert obj["spec"]["rules"][0]["http"]["paths"][0]["pathType"] == "ImplementationSpecific"


def test_hosts_wildcard_only_first_label_and_no_ip(ingresses, ctx):
    obj = orjson.loads(ingresses.create("default", ingress(rules=[rule("*.example.com")]), ctx))
    assert obj["spec"]["rules"][0]["host"] == "*.example.com"
    err = invalid(ingresses, ctx, ingress(name="bad", rules=[rule("foo.*.com"), rule("1.2.3.4")]))
    got = causes(err)
    assert got["spec.rules[0].host"].startswith(
        "Invalid value: \"foo.*.com\": a wildcard DNS-1123 subdomain must start with '*.', "
        "followed by a valid DNS subdomain")
    assert "e.g. '*.example.com', regex used" in got["spec.rules[0].host"]
    assert [c.message for c in err.causes if c.field == "spec.rules[1].host"][0] == \
        'Invalid value: "1.2.3.4": must be a DNS name, not an IP address'


def test_backend_exactly_one_of_service_and_resource(ingresses, ctx):
    both = {**BACKEND, "resource": {"kind": "Bucket", "name": "b"}}
    err = invalid(ingresses, ctx, ingress(defaultBackend=both))
    assert causes(err) == {"spec.defaultBackend":
                           'Invalid value: "": cannot set both resource and service backends'}
    err = invalid(ingresses, ctx, ingress(defaultBackend={}))
    assert causes(err) == {"spec.defaultBackend":
                           'Invalid value: "": resource or service backend is required'}
    ok = orjson.loads(ingresses.create("default", ingress(
        name="res", defaultBackend={"resource": {"apiGroup": "k8s.example.com", "kind": "Bucket",
                                                 "name": "static"}}), ctx))
    assert ok["spec"]["defaultBackend"]["resource"]["kind"] == "Bucket"


def test_service_port_name_or_number(ingresses, ctx):
    def svc(port, name="web"):
        return ingress(defaultBackend={"service": {"name": name, "port": port}})
    assert causes(invalid(ingresses, ctx, svc({}))) == {
        "spec.defaultBackend": "Required value: port name or number is required"}
    assert causes(invalid(ingresses, ctx, svc({"name": "http", "number": 80}))) == {
        "spec.defaultBackend": 'Invalid value: "": cannot set both port name & port number'}
    assert causes(invalid(ingresses, ctx, svc({"number": 70000}))) == {
        "spec.defaultBackend.service.port.number":
            "Invalid value: 70000: must be between 1 and 65535, inclusive"}
    got = causes(invalid(ingresses, ctx, svc({"number": 80}, name="1web")))
    assert got["spec.defaultBackend.service.name"].startswith(
        'Invalid value: "1web": a DNS-1035 label must consist of lower case')


def test_tls_hosts_and_secret_name(ingresses, ctx):
    err = invalid(ingresses, ctx, ingress(rules=[rule("example.com")],
                                          tls=[{"hosts": ["ok.example.com", "Not_OK"],
                                                "secretName": "Bad_Secret"}]))
    assert set(causes(err)) == {"spec.tls[0].hosts[1]", "spec.tls[0].secretName"}


def test_class_annotation_must_match_class_name(ingresses, ctx):
    body = ingress(rules=[rule("example.com")], ingressClassName="nginx")
    body["metadata"]["annotations"] = {"kubernetes.io/ingress.class": "traefik"}
    assert causes(invalid(ingresses, ctx, body)) == {
        "annotations.kubernetes.io/ingress.class":
            'Invalid value: "traefik": must match `ingressClassName` when both are specified'}
    body["metadata"]["annotations"]["kubernetes.io/ingress.class"] = "nginx"
    ingresses.create("default", body, ctx)
    assert ctx.warnings == []


def test_class_annotation_alone_warns(ingresses, ctx):
    body = ingress()
    body["metadata"]["annotations"] = {"kubernetes.io/ingress.class": "nginx"}
    ingresses.create("default", body, ctx)
    assert ctx.warnings == ['annotation "kubernetes.io/ingress.class" is deprecated, please use '
                            "'spec.ingressClassName' instead"]


def test_table_row_like_printIngress():
    s = IngressStrategy()
    obj = {"metadata": {"name": "web", "creationTimestamp": "2024-01-01T00:00:00Z"},
           "spec": {"rules": [rule("a.com"), rule("b.com")],
                    "tls": [{"hosts": ["a.com"]}]},
           "status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.2"}, {"hostname": "lb.example"},
                                                   {"ip": "10.0.0.1"}]}}}
    row = s.table_row(obj)
    assert row[:5] == ["web", "<none>", "a.com,b.com", "10.0.0.1,10.0.0.2,lb.example", "80, 443"]
    obj["spec"] = {"ingressClassName": "nginx", "defaultBackend": BACKEND}
    obj["status"] = {"loadBalancer": {}}
    assert s.table_row(obj)[:5] == ["web", "nginx", "*", "", "80"]
    assert [c.name for c in s.columns] == ["Name", "Class", "Hosts", "Address", "Ports", "Age"]


def test_format_hosts_caps_at_three():
    rules = [{"host": h} for h in ("a", "b", "", "c", "d", "e")]
    assert format_hosts(rules) == "a,b,c + 3 more..."
    assert format_hosts([{"host": "a"}, {}]) == "a"


def test_http_create_and_table(db):
    client = ASGIClient(in_process_app()[1])
    resp = client.post("/apis/networking.k8s.io/v1/namespaces/default/ingresses",
                       {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", **ingress()})
    assert resp.status_code == 201, resp.json()
    assert resp.json()["status"] == {"loadBalancer": {}}
    table = client.get("/apis/networking.k8s.io/v1/namespaces/default/ingresses",
                       headers={"accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}).json()
    assert table["rows"][0]["cells"][:5] == ["web", "<none>", "example.com", "", "80"]
