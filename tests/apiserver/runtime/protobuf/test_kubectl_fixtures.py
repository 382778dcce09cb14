"""Real kubectl bodies: what kubectl 1.32.5 sends as protobuf decodes to what kubectl 1.31.9
sends as JSON for the same command.

``fixtures/<name>.pb`` / ``<name>.json`` were recorded by ``tools/capture_kubectl_bodies.py``
(each command run once per client version against a local stub).  Go prints zero
``metav1.Time`` values as ``null``; the decoder leaves those keys out, so nulls are dropped
from the JSON side before comparing.
"""
import json
from pathlib import Path

import pytest

from apiserver.runtime.protobuf import decode_body

FIXTURES = Path(__file__).parent / "fixtures"
NAMES = sorted(p.stem for p in FIXTURES.glob("*.pb"))


def _drop_nulls(node):
    if isinstance(node, dict):
        return {k: _drop_nulls(v) for k, v in node.items() if v is not None}
    if isinstance(node, list):
        return [_drop_nulls(v) for v in node]
    return node


def test_fixtures_cover_the_typed_kubectl_commands():
    assert {"token", "can-i", "can-i-list", "whoami", "configmap", "secret", "deployment",
            "service-clusterip", "job", "cronjob", "role", "rolebinding", "clusterrole",
            "namespace", "serviceaccount", "quota", "pdb", "ingress", "priorityclass"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_kubectl_protobuf_body_decodes_to_kubectl_json_body(name):
    body = (FIXTURES / f"{name}.pb").read_bytes()
    assert body.startswith(b"k8s\x00")
    expected = _drop_nulls(json.loads((FIXTURES / f"{name}.json").read_bytes()))
    assert decode_body(body) == expected
