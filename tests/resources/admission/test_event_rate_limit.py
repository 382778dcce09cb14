"""EventRateLimit: token buckets per server, namespace, user and source+object refuse events
past their burst with upstream's 429 text; buckets refill at qps; the keyed limits forget the
least recently used key; without a valid Configuration the plugin refuses to start."""
from __future__ import annotations

import pytest

from apiserver.admission.base import Attributes
from apiserver.authentication.user import UserInfo
from apiserver.runtime import errors
from resources.admission.event_rate_limit import EventRateLimit
from tests.apiserver.storage.support import ensure_revision_row
from tests.asgi import ASGIClient, in_process_app

API = "eventratelimit.admission.k8s.io/v1alpha1"


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def plugin(*limits, clock=None):
    p = EventRateLimit(clock=clock or FakeClock())
    p.configure({"apiVersion": API, "kind": "Configuration", "limits": list(limits)})
    return p


def event(namespace="default", user="alice", kind="Event", source=None, involved=None):
    obj = {"metadata": {"name": "e"}, "source": source or {}, "involvedObject": involved or {}}
    return Attributes(operation="CREATE", group="", version="v1", kind=kind, resource="events",
                      subresource="", namespace=namespace, name="e", obj=obj, old=None,
                      user=UserInfo(user))


def accepted(p, attrs) -> bool:
    try:
        p.validate(attrs)
    except errors.TooManyRequests:
        return False
    return True


def test_server_limit_refuses_past_burst_and_refills():
    clock = FakeClock()
    p = plugin({"type": "Server", "qps": 1, "burst": 3}, clock=clock)
    assert [accepted(p, event()) for _ in range(3)] == [True] * 3
    with pytest.raises(errors.TooManyRequests) as exc:
        p.validate(event())
    assert exc.value.code == 429 and exc.value.reason == "TooManyRequests"
    assert exc.value.message == "Too many requests: limit reached on type Server for key "
    # non-events neither count nor are refused
    assert accepted(p, event(kind="ConfigMap"))
    clock.now += 1
    assert accepted(p, event()) and not accepted(p, event())
    assert p.handles("CREATE") and p.handles("UPDATE") and not p.handles("DELETE")


def test_namespace_limit_and_lru_eviction():
    # upstream's "namespace limits from lru namespace should clear when cache size exceeded"
    p = plugin({"type": "Server", "qps": 1, "burst": 100},
               {"type": "Namespace", "qps": 1, "burst": 3, "cacheSize": 2})
    steps = [("A", True), ("A", True), ("B", True), ("B", True), ("B", True), ("A", True),
             ("B", False), ("A", False), ("C", True), ("A", False), ("B", True)]
    assert [accepted(p, event(namespace=ns)) for ns, _ in steps] == [ok for _, ok in steps]
    with pytest.raises(errors.TooManyRequests) as exc:
        p.validate(event(namespace="A"))
    assert exc.value.message == "Too many requests: limit reached on type Namespace for key A"


def test_user_limit_counts_each_user_apart():
    p = plugin({"type": "User", "qps": 1, "burst": 2})
    assert [accepted(p, event(user="a")) for _ in range(3)] == [True, True, False]
    assert accepted(p, event(user="b"))
    with pytest.raises(errors.TooManyRequests) as exc:
        p.validate(event(user="a"))
    assert exc.value.message.endswith("on type User for key a")


@pytest.mark.parametrize("field", ["component", "host", "kind", "namespace", "name", "uid",
                                   "apiVersion"])
def test_source_and_object_key_includes_each_field(field):
    p = plugin({"type": "SourceAndObject", "qps": 1, "burst": 1, "cacheSize": 10})

    def ev(label):
        if field in ("component", "host"):
            return event(source={field: label})
        return event(involved={field: label})

    assert accepted(p, ev("A"))
    assert not accepted(p, ev("A"))
    assert accepted(p, ev("B"))


def test_source_and_object_key_text():
    p = plugin({"type": "SourceAndObject", "qps": 1, "burst": 1})
    attrs = event(source={"component": "kubelet", "host": "n1"},
                  involved={"kind": "Pod", "namespace": "ns", "name": "p", "uid": "u1",
                            "apiVersion": "v1"})
    p.validate(attrs)
    with pytest.raises(errors.TooManyRequests) as exc:
        p.validate(attrs)
    assert exc.value.message == ("Too many requests: limit reached on type SourceAndObject "
                                 "for key kubeletn1Podnspu1v1")


def test_every_limit_spends_a_token():
    # a refusal by one limit does not spare the others, as upstream's loop
    p = plugin({"type": "Server", "qps": 1, "burst": 2},
               {"type": "Namespace", "qps": 1, "burst": 1})
    assert accepted(p, event(namespace="a"))
    assert not accepted(p, event(namespace="a"))      # namespace refuses, server spends
    assert not accepted(p, event(namespace="b"))      # the server bucket is now empty


def test_without_configuration_it_refuses_to_start():
    with pytest.raises(ValueError) as exc:
        EventRateLimit().configure(None)
    assert str(exc.value) == "limits: Invalid value: []eventratelimit.Limit(nil): must not be empty"


@pytest.mark.parametrize("limits, message", [
    ([{"type": "Bogus", "qps": 1, "burst": 1}],
     'limits[0].type: Unsupported value: "Bogus": supported values: "Namespace", "Server", '
     '"SourceAndObject", "User"'),
    ([{"type": "Server", "qps": 0, "burst": 1}], "limits[0].qps: Invalid value: 0: must be positive"),
    ([{"type": "User", "qps": 1, "burst": 1, "cacheSize": -1}, {"type": "Server", "qps": 1}],
     "[limits[0].cacheSize: Invalid value: -1: must not be negative, "
     "limits[1].burst: Invalid value: 0: must be positive]"),
])
def test_bad_configurations(limits, message):
    with pytest.raises(ValueError) as exc:
        plugin(*limits)
    assert str(exc.value) == message


def test_wrong_kind_is_refused():
    with pytest.raises(ValueError) as exc:
        EventRateLimit().configure({"apiVersion": "v1", "kind": "ConfigMap",
                                    "limits": [{"type": "Server", "qps": 1, "burst": 1}]})
    assert 'no kind "ConfigMap" is registered for version "v1"' in str(exc.value)


def test_over_http(db, tmp_path):
    import dataclasses

    from apiserver.options import Options

    ensure_revision_row()
    config = tmp_path / "admission.yaml"
    config.write_text(
        "apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugins:\n"
        "- name: EventRateLimit\n  configuration:\n"
        f"    apiVersion: {API}\n    kind: Configuration\n"
        "    limits:\n    - type: Namespace\n      qps: 0.0001\n      burst: 2\n")
    # qps is an int32 upstream: a fraction is no valid configuration
    with pytest.raises(ValueError):
        in_process_app(admission_plugins=("EventRateLimit",),
                       options=dataclasses.replace(Options(), admission_control_config_file=str(config)))
    config.write_text(config.read_text().replace("0.0001", "1"))
    _, app = in_process_app(admission_plugins=("EventRateLimit",), options=dataclasses.replace(
        Options(), admission_control_config_file=str(config)))
    client = ASGIClient(app)
    body = {"metadata": {"generateName": "e-"}, "involvedObject": {"kind": "Pod", "name": "p"},
            "reason": "Test", "message": "m"}
    codes = [client.post("/api/v1/namespaces/default/events", body).status_code for _ in range(3)]
    assert codes == [201, 201, 429]
    r = client.post("/api/v1/namespaces/default/events", body)
    assert r.status_code == 429
    assert r.json()["reason"] == "TooManyRequests"
    assert r.json()["message"] == "Too many requests: limit reached on type Namespace for key default"
    # other kinds pass
    assert client.post("/api/v1/namespaces/default/configmaps",
                       {"metadata": {"name": "c"}}).status_code == 201
