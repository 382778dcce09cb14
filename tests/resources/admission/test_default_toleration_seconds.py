"""DefaultTolerationSeconds adds the not-ready/unreachable tolerations a Pod lacks."""
from apiserver.admission.base import Attributes
from resources.admission.default_toleration_seconds import DefaultTolerationSeconds


def attrs(pod, kind="Pod", operation="CREATE"):
    return Attributes(operation=operation, group="", version="v1", kind=kind, resource="pods",
                      subresource="", namespace="default", name="p", obj=pod, old=None)


def test_adds_both_tolerations_for_300_seconds():
    pod = {"spec": {"containers": [{"name": "c", "image": "i"}]}}
    DefaultTolerationSeconds().admit(attrs(pod))
    assert pod["spec"]["tolerations"] == [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 300},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 300}]


def test_keeps_what_the_pod_already_tolerates():
    own = {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
           "tolerationSeconds": 5}
    pod = {"spec": {"tolerations": [own]}}
    DefaultTolerationSeconds().admit(attrs(pod))
    assert own in pod["spec"]["tolerations"] and len(pod["spec"]["tolerations"]) == 2
    everything = {"spec": {"tolerations": [{"operator": "Exists"}]}}
    DefaultTolerationSeconds().admit(attrs(everything))
    assert everything["spec"]["tolerations"] == [{"operator": "Exists"}]


def test_only_pods_on_create():
    plugin = DefaultTolerationSeconds()
    assert not plugin.handles("UPDATE")
    cm = {"data": {}}
    plugin.admit(attrs(cm, kind="ConfigMap"))
    assert cm == {"data": {}}
