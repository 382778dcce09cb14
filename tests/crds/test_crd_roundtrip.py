"""A CustomResourceDefinition using every schema feature survives create unchanged (pruning
by the built-in JSONSchemaProps definition keeps defaults, examples, enums and the
x-kubernetes extensions), and the kind's OpenAPI v3 document names upstream's definition."""
import copy

import orjson
from tests.apiserver.storage.support import ensure_revision_row
from tests.crds.test_crd_support import crd, crd_store
from tests.asgi import ASGIClient, in_process_app
SCHEMA = {"type": "object", "x-kubernetes-validations": [{"rule": "true", "message": "m", "fieldPath": ".spec", "reason": "FieldValueInvalid"}],
  "properties": {"spec": {"type": "object", "default": {"a": {"b": [1, "x"]}}, "example": {"z": 1},
     "properties": {"a": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                    "port": {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]},
                    "mode": {"type": "string", "enum": ["a", "b"], "default": "a", "pattern": "^a", "maxLength": 3, "format": "byte"},
                    "items": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["k"],
                              "items": {"type": "object", "required": ["k"], "properties": {"k": {"type": "string"}}}},
                    "m": {"type": "object", "additionalProperties": {"type": "string"}, "x-kubernetes-map-type": "granular"},
                    "e": {"type": "object", "x-kubernetes-embedded-resource": True, "x-kubernetes-preserve-unknown-fields": True}}}}}
def test_every_feature_round_trips(stores, ctx, db):
    ensure_revision_row()
    store = crd_store(stores)
    c = crd(schema=SCHEMA, additionalPrinterColumns=[{"name": "M", "type": "string", "jsonPath": ".spec.mode", "priority": 1, "description": "d", "format": "byte"}],
            subresources={"status": {}, "scale": {"specReplicasPath": ".spec.r", "statusReplicasPath": ".status.r", "labelSelectorPath": ".status.s"}},
            selectableFields=[{"jsonPath": ".spec.mode"}], deprecated=True, deprecationWarning="w")
    c["spec"]["conversion"] = {"strategy": "Webhook", "webhook": {"conversionReviewVersions": ["v1"], "clientConfig": {"url": "https://x.example.com/c", "caBundle": "Zm9v"}}}
    sent = copy.deepcopy(c)
    got = orjson.loads(store.create(None, c, ctx))
    assert got["spec"]["versions"] == sent["spec"]["versions"]
    assert got["spec"]["conversion"] == sent["spec"]["conversion"]
    client = ASGIClient(in_process_app()[1])
    r = client.get("/openapi/v3/apis/apiextensions.k8s.io/v1")
    assert r.status_code == 200
    assert "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition" in r.json()["components"]["schemas"]
