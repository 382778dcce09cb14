"""Conversion strategy Webhook over in-process HTTP against a real HTTPS webhook: v1 is
stored, v2 is converted by the webhook both ways (one ConversionReview per list), and a
webhook that fails, answers another uid or renames the object is a 500 with upstream's
``conversion webhook for … failed`` text while nothing stored changes.  Upstream:
kubernetes/apiextensions-apiserver:pkg/apiserver/conversion/webhook_converter.go."""
from __future__ import annotations

import copy
import time

import pytest

from tests.asgi import ASGIClient, in_process_app
from tests.crds.conversion_webhook import ConversionWebhook
from tests.crds.test_serving_support import CRONTAB_CRD, CRONTABS, GROUP, create_crd, crontab

pytestmark = pytest.mark.django_db
V2 = f"/apis/{GROUP}/v2/namespaces/default/crontabs"
V2_SCHEMA = {"type": "object", "properties": {
    "spec": {"type": "object", "properties": {
        "schedule": {"type": "string"}, "image": {"type": "string"},
        "replicas": {"type": "integer"}}},
    "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}


@pytest.fixture(scope="module")
def webhook():
    hook = ConversionWebhook()
    yield hook
    hook.close()


def definition(webhook, path="/", review_versions=("v1",)) -> dict:
    crd = copy.deepcopy(CRONTAB_CRD)
    v1 = crd["spec"]["versions"][0]
    v1.pop("selectableFields")
    crd["spec"]["versions"] = [v1, {"name": "v2", "served": True, "storage": False,
                                    "schema": {"openAPIV3Schema": V2_SCHEMA}}]
    crd["spec"]["conversion"] = {"strategy": "Webhook", "webhook": {
        "conversionReviewVersions": list(review_versions),
        "clientConfig": {"url": webhook.url(path), "caBundle": webhook.ca_bundle}}}
    return crd


def world(webhook, **kw):
    completed, app = in_process_app()
    create_crd(completed.storage, definition(webhook, **kw))
    return ASGIClient(app)


def test_v2_reads_and_writes_go_through_the_webhook(webhook):
    client = world(webhook)
    made = client.post(CRONTABS, crontab("a"))
    assert made.status_code == 201, made.content
    webhook.reviews.clear()

    got = client.get(f"{V2}/a")
    assert got.status_code == 200, got.content
    body = got.json()
    assert body["apiVersion"] == f"{GROUP}/v2" and body["spec"]["schedule"] == "* * * * */5"
    assert "cronSpec" not in body["spec"]
    review = webhook.reviews[-1]
    assert review["apiVersion"] == "apiextensions.k8s.io/v1"
    assert review["request"]["desiredAPIVersion"] == f"{GROUP}/v2"
    assert [o["apiVersion"] for o in review["request"]["objects"]] == [f"{GROUP}/v1"]

    # a write in v2 reaches storage in v1's shape (through the webhook)
    v2 = {"apiVersion": f"{GROUP}/v2", "kind": "CronTab", "metadata": {"name": "b"},
          "spec": {"schedule": "0 * * * *", "image": "x"}}
    assert client.post(V2, v2).status_code == 201
    stored = client.get(f"{CRONTABS}/b").json()
    assert stored["spec"]["cronSpec"] == "0 * * * *" and "schedule" not in stored["spec"]

    # v1 reads need no webhook; a v2 list is one review for every item
    webhook.reviews.clear()
    assert client.get(CRONTABS).status_code == 200 and not webhook.reviews
    listed = client.get(V2).json()
    assert [i["spec"]["schedule"] for i in listed["items"]] == ["* * * * */5", "0 * * * *"]
    assert len(webhook.reviews) == 1 and len(webhook.reviews[0]["request"]["objects"]) == 2


def test_v1beta1_review_when_only_that_is_listed(webhook):
    client = world(webhook, review_versions=("v9", "v1beta1"))
    assert client.post(CRONTABS, crontab("a")).status_code == 201
    assert client.get(f"{V2}/a").status_code == 200
    assert webhook.reviews[-1]["apiVersion"] == "apiextensions.k8s.io/v1beta1"


def test_the_webhook_may_change_labels_only(webhook):
    client = world(webhook, path="/label")
    assert client.post(CRONTABS, crontab("a")).status_code == 201
    body = client.get(f"{V2}/a").json()
    assert body["metadata"]["labels"]["converted"] == "yes"
    assert body["metadata"]["generation"] == 1               # restored from the original


@pytest.mark.parametrize("path,text", [
    ("/fail", "failed: cannot convert today"),
    ("/uid", 'failed: expected response.uid="'),
    ("/rename", "returned invalid converted object at index 0: must have the same name: a != a-x"),
])
def test_a_bad_answer_is_an_internal_error(webhook, path, text):
    client = world(webhook, path=path)
    assert client.post(CRONTABS, crontab("a")).status_code == 201
    got = client.get(f"{V2}/a")
    assert got.status_code == 500, got.content
    status = got.json()
    assert status["kind"] == "Status" and status["code"] == 500 and "reason" not in status
    assert status["message"].startswith(f"conversion webhook for {GROUP}/v1, Kind=CronTab ")
    assert text in status["message"]
    # a write through the broken webhook stores nothing
    v2 = {"apiVersion": f"{GROUP}/v2", "kind": "CronTab", "metadata": {"name": "b"},
          "spec": {"schedule": "0 * * * *"}}
    assert client.post(V2, v2).status_code == 500
    assert client.get(f"{CRONTABS}/b").status_code == 404


def test_an_unreachable_webhook(webhook):
    crd = definition(webhook)
    crd["spec"]["conversion"]["webhook"]["clientConfig"] = {
        "service": {"namespace": "default", "name": "nowhere", "port": 443, "path": "/convert"},
        "caBundle": webhook.ca_bundle}
    completed, app = in_process_app()
    create_crd(completed.storage, crd)
    client = ASGIClient(app)
    assert client.post(CRONTABS, crontab("a")).status_code == 201
    got = client.get(f"{V2}/a")
    assert got.status_code == 500
    assert got.json()["message"] == (
        f"conversion webhook for {GROUP}/v1, Kind=CronTab failed: Post "
        '"https://nowhere.default.svc:443/convert": service "nowhere" not found')


def test_objects_of_an_earlier_storage_version_are_converted_on_read(webhook):
    """After the storage version moves to v2, rows written as v1 read as v2 (through the
    webhook) in v2 and as v1 (untouched) in v1; a write stores v2."""
    import orjson

    from crds.serving import CRD_RESOURCE

    completed, app = in_process_app()
    create_crd(completed.storage, definition(webhook))
    client = ASGIClient(app)
    assert client.post(CRONTABS, crontab("old")).status_code == 201
    doc, rv = completed.storage.get(CRD_RESOURCE, "", f"crontabs.{GROUP}")
    crd = orjson.loads(doc)
    crd["spec"]["versions"][0]["storage"], crd["spec"]["versions"][1]["storage"] = False, True
    completed.storage.update(CRD_RESOURCE, "", crd["metadata"]["name"], crd, rv)
    time.sleep(1.1)          # a definition written behind the server's back: its poll interval
    webhook.reviews.clear()

    body = client.get(f"{V2}/old").json()
    assert body["apiVersion"] == f"{GROUP}/v2" and body["spec"]["schedule"] == "* * * * */5"
    assert webhook.reviews, "the v1 row went through the webhook"
    listed = client.get(V2).json()["items"]
    assert [i["spec"].get("schedule") for i in listed] == ["* * * * */5"]
    v1 = client.get(f"{CRONTABS}/old").json()
    assert v1["apiVersion"] == f"{GROUP}/v1" and v1["spec"]["cronSpec"] == "* * * * */5"

    new = {"apiVersion": f"{GROUP}/v2", "kind": "CronTab", "metadata": {"name": "new"},
           "spec": {"schedule": "1 * * * *"}}
    assert client.post(V2, new).status_code == 201
    row = orjson.loads(completed.storage.get(f"crontabs.{GROUP}", "default", "new")[0])
    assert row["apiVersion"] == f"{GROUP}/v2" and row["spec"] == {"schedule": "1 * * * *"}
