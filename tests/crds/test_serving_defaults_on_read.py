"""Schema defaults on read: a default added to a definition shows in objects stored before
it (GET, list, and the object a PATCH starts from), in each version's own defaults, while
the stored rows stay as written until the next write.  Upstream: apiextensions-apiserver
pkg/apiserver/customresource_handler.go (the storage codec's defaulting of what it reads)
and the CRD documentation's "Defaulting happens … when reading from etcd"."""
from __future__ import annotations

import copy

import orjson
import pytest

from tests.asgi import ASGIClient, in_process_app
from tests.crds.test_serving_support import CRONTAB_CRD, CRONTABS, GROUP, create_crd, crontab

pytestmark = pytest.mark.django_db
V1BETA1 = f"/apis/{GROUP}/v1beta1/namespaces/default/crontabs"


def with_defaults(v1_color, beta_color) -> dict:
    crd = copy.deepcopy(CRONTAB_CRD)
    crd["metadata"]["uid"] = "0b5d6c9e-0000-4000-8000-000000000002"
    crd["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    for version, color in zip(crd["spec"]["versions"], (v1_color, beta_color)):
        version["schema"] = copy.deepcopy(version["schema"])
        spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
        if color:
            spec["properties"]["color"]["default"] = color
        else:
            spec["properties"]["cronSpec"]["default"] = "@daily"
    return crd


def test_a_default_added_later_shows_on_read_only(monkeypatch):
    completed, app = in_process_app()
    create_crd(completed.storage)
    client = ASGIClient(app)
    assert client.post(CRONTABS, crontab("old")).status_code == 201
    assert "color" not in client.get(f"{CRONTABS}/old").json()["spec"]

    from crds.serving import CRD_RESOURCE
    doc, rv = completed.storage.get(CRD_RESOURCE, "", f"crontabs.{GROUP}")
    crd = with_defaults("blue", None)     # v1beta1 defaults another field
    crd["metadata"] = orjson.loads(doc)["metadata"]
    completed.storage.update(CRD_RESOURCE, "", crd["metadata"]["name"], crd, rv)
    import time
    time.sleep(1.1)                       # written behind the server's back: its poll interval

    assert client.get(f"{CRONTABS}/old").json()["spec"]["color"] == "blue"
    assert [i["spec"]["color"] for i in client.get(CRONTABS).json()["items"]] == ["blue"]
    # v1beta1 reads start from the stored version's defaults, then add their own (only
    # where a field is still absent, so cronSpec keeps its value)
    beta = client.get(f"{V1BETA1}/old").json()["spec"]
    assert beta["color"] == "blue" and beta["cronSpec"] == "* * * * */5"
    assert client.post(V1BETA1, {**crontab("x"), "apiVersion": f"{GROUP}/v1beta1",
                                 "spec": {"image": "i"}}).status_code == 201
    assert client.get(f"{V1BETA1}/x").json()["spec"]["cronSpec"] == "@daily"
    row = orjson.loads(completed.storage.get(f"crontabs.{GROUP}", "default", "old")[0])
    assert "color" not in row["spec"]                 # not written back

    # the next write stores what was read
    patched = client.patch(f"{CRONTABS}/old", {"spec": {"image": "new"}},
                           content_type="application/merge-patch+json")
    assert patched.status_code == 200, patched.content
    row = orjson.loads(completed.storage.get(f"crontabs.{GROUP}", "default", "old")[0])
    assert row["spec"]["color"] == "blue" and row["spec"]["image"] == "new"
