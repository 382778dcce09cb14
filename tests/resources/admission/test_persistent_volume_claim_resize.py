"""PersistentVolumeClaimResize: only bound claims of a class allowing expansion may grow;
upstream's messages."""
from __future__ import annotations

import orjson
import pytest

from apiserver.registry.context import system_context
from apiserver.runtime import errors
from tests.apiserver.storage.support import ensure_revision_row
from tests.conftest import build_server


@pytest.fixture
def stores(db):
    ensure_revision_row()
    stores = build_server(admission_plugins=("PersistentVolumeClaimResize",))[0].stores
    classes = stores.store("storage.k8s.io", "v1", "storageclasses")
    for name, allow in (("grow", True), ("fixed", False)):
        classes.create(None, {"metadata": {"name": name}, "provisioner": "x/y",
                              "allowVolumeExpansion": allow}, system_context("tests"))
    return stores


def claim(stores, ctx, name, storage_class, bound=True):
    claims = stores.store("", "v1", "persistentvolumeclaims")
    made = orjson.loads(claims.create("ns1", {"metadata": {"name": name}, "spec": {
        "accessModes": ["ReadWriteOnce"], "storageClassName": storage_class,
        "resources": {"requests": {"storage": "1Gi"}}}}, ctx))
    if bound:
        made["status"] = {"phase": "Bound"}
        made = orjson.loads(claims.update("ns1", name, made, ctx.for_subresource("status"))[0])
    return made


def resize(stores, ctx, made, size):
    made["spec"]["resources"]["requests"]["storage"] = size
    return stores.store("", "v1", "persistentvolumeclaims").update(
        "ns1", made["metadata"]["name"], made, ctx)


def test_bound_claim_of_an_expandable_class_grows(stores, ctx):
    made = claim(stores, ctx, "c", "grow")
    doc, _ = resize(stores, ctx, made, "2Gi")
    assert orjson.loads(doc)["spec"]["resources"]["requests"]["storage"] == "2Gi"


def test_class_must_allow_expansion(stores, ctx):
    for name, cls in (("a", "fixed"), ("b", "missing")):
        made = claim(stores, ctx, name, cls)
        with pytest.raises(errors.Forbidden) as exc:
            resize(stores, ctx, made, "2Gi")
        assert exc.value.message == (
            f'persistentvolumeclaims "{name}" is forbidden: only dynamically provisioned pvc '
            'can be resized and the storageclass that provisions the pvc must support resize')


def test_size_equal_in_another_form_is_no_growth(stores, ctx):
    made = claim(stores, ctx, "c", "fixed")
    made["metadata"]["labels"] = {"x": "y"}
    resize(stores, ctx, made, "1024Mi")


def test_only_bound_claims(stores):
    # the kind's own validation already refuses spec changes of an unbound claim, so the
    # plugin's rule is checked on its own
    from apiserver.admission.base import Attributes
    plugin = stores.admission.plugins[0]
    old = {"spec": {"storageClassName": "grow", "resources": {"requests": {"storage": "1Gi"}}},
           "status": {"phase": "Pending"}}
    new = {"spec": {"storageClassName": "grow", "resources": {"requests": {"storage": "2Gi"}}}}
    with pytest.raises(errors.Forbidden) as exc:
        plugin.validate(Attributes("UPDATE", "", "v1", "PersistentVolumeClaim",
                                   "persistentvolumeclaims", "", "ns1", "c", new, old))
    assert exc.value.message == \
        'persistentvolumeclaims "c" is forbidden: Only bound persistent volume claims can be expanded'
    plugin.validate(Attributes("UPDATE", "", "v1", "PersistentVolumeClaim",
                               "persistentvolumeclaims", "status", "ns1", "c", new, old))
