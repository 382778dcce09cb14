"""batch/v1 Job: defaults, selector generation, validation, printing, and the Store."""
from __future__ import annotations

import copy

import orjson
import pytest

from apiserver.registry.context import RequestContext
from apiserver.runtime import errors
from resources.batch.jobs import CONTROLLER_UID, JOB_NAME, JobStrategy
from tests.apiserver.storage.support import ensure_revision_row

UID = "3f6d6a8e-0000-4000-8000-000000000001"


def job(spec=None, restart="Never", labels=None):
    template = {"spec": {"restartPolicy": restart,
                         "containers": [{"name": "pi", "image": "perl:5.34"}]}}
    if labels is not None:
        template["metadata"] = {"labels": labels}
    return {"metadata": {"name": "pi", "namespace": "default", "uid": UID,
                         "creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"template": template, **(spec or {})}}


def created(obj):
    s = JobStrategy()
    s.default(obj)
    s.prepare_for_create(RequestContext(), obj)
    return obj


def texts(errs):
    return [e.error_text() for e in errs]


def test_defaults():
    spec = created(job())["spec"]
    assert (spec["completions"], spec["parallelism"], spec["backoffLimit"]) == (1, 1, 6)
    assert spec["completionMode"] == "NonIndexed" and spec["suspend"] is False
    assert spec["manualSelector"] is False
    assert spec["podReplacementPolicy"] == "TerminatingOrFailed"
    assert spec["template"]["spec"]["dnsPolicy"] == "ClusterFirst"


def test_parallelism_without_completions_leaves_completions_unset():
    spec = created(job({"parallelism": 3}))["spec"]
    assert spec["parallelism"] == 3 and "completions" not in spec


def test_pod_failure_policy_changes_replacement_default():
    spec = created(job({"podFailurePolicy": {"rules": [
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]}}))["spec"]
    assert spec["podReplacementPolicy"] == "Failed"
    assert spec["podFailurePolicy"]["rules"][0]["onPodConditions"][0]["status"] == "True"


def test_selector_and_labels_generated_from_uid():
    obj = created(job(labels={"app": "pi"}))
    labels = obj["spec"]["template"]["metadata"]["labels"]
    assert labels == {"app": "pi", "job-name": "pi", JOB_NAME: "pi",
                      "controller-uid": UID, CONTROLLER_UID: UID}
    assert obj["spec"]["selector"] == {"matchLabels": {CONTROLLER_UID: UID}}
    assert obj["metadata"]["labels"] == {"app": "pi"}      # copied from the template by default
    assert texts(JobStrategy().validate(RequestContext(), obj)) == []


def test_job_without_labels_gets_the_generated_ones():
    obj = created(job())
    assert obj["metadata"]["labels"][CONTROLLER_UID] == UID


def test_manual_selector_is_not_generated():
    obj = created(job({"manualSelector": True, "selector": {"matchLabels": {"app": "pi"}}},
                      labels={"app": "pi"}))
    assert obj["spec"]["selector"] == {"matchLabels": {"app": "pi"}}
    assert "controller-uid" not in obj["spec"]["template"]["metadata"]["labels"]
    assert texts(JobStrategy().validate(RequestContext(), obj)) == []
    obj["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    assert texts(JobStrategy().validate(RequestContext(), obj)) == [
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"other"}: '
        '`selector` does not match template `labels`']


def test_user_selector_without_manual_selector_is_rejected():
    obj = created(job({"selector": {"matchLabels": {"app": "pi"}}}, labels={"app": "pi"}))
    out = texts(JobStrategy().validate(RequestContext(), obj))
    assert out == ['spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string'
                   '{"app":"pi", "batch.kubernetes.io/controller-uid":"' + UID + '"}, '
                   'MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: `selector` not auto-generated']


@pytest.mark.parametrize("restart,message", [
    ("Always", 'spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"'),
    ("", 'spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"'),
])
def test_restart_policy(restart, message):
    obj = job(restart=restart)
    if not restart:
        del obj["spec"]["template"]["spec"]["restartPolicy"]     # defaulted to Always
    assert texts(JobStrategy().validate(RequestContext(), created(obj))) == [message]


def test_negative_counters():
    out = texts(JobStrategy().validate(RequestContext(), created(job({"parallelism": -1, "backoffLimit": -2}))))
    assert "spec.parallelism: Invalid value: -1: must be greater than or equal to 0" in out
    assert "spec.backoffLimit: Invalid value: -2: must be greater than or equal to 0" in out


def test_update_immutables():
    s = JobStrategy()
    old = created(job())
    new = copy.deepcopy(old)
    new["spec"]["parallelism"] = 5
    new["spec"]["suspend"] = True
    assert texts(s.validate_update(RequestContext(), new, old)) == []
    new["spec"]["completions"] = 4
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "perl:6"
    fields = [e.field for e in s.validate_update(RequestContext(), new, old)]
    assert fields == ["spec.completions", "spec.template"]


def test_table_row():
    s = JobStrategy()
    obj = created(job())
    obj["status"] = {"succeeded": 1, "startTime": "2024-01-01T00:00:00Z",
                     "completionTime": "2024-01-01T00:00:42Z",
                     "conditions": [{"type": "Complete", "status": "True"}]}
    row = s.table_row(obj)
    assert row[:4] == ["pi", "Complete", "1/1", "42s"]
    assert row[5:] == ["pi", "perl:5.34", f"{CONTROLLER_UID}={UID}"]
    obj = created(job({"parallelism": 3}))
    assert s.table_row(obj)[1:4] == ["Running", "0/1 of 3", ""]
    obj["status"] = {"conditions": [{"type": "Suspended", "status": "True"}]}
    assert s.table_row(obj)[1] == "Suspended"
    assert [c.name for c in s.columns] == ["Name", "Status", "Completions", "Duration", "Age",
                                           "Containers", "Images", "Selector"]


def test_selectable_field():
    assert JobStrategy.selectable_fields["status.successful"]({"status": {"succeeded": 2}}) == "2"


@pytest.fixture
def jobs(stores):
    ensure_revision_row()
    return stores.store("batch", "v1", "jobs")


def test_store_generates_selector_with_the_stored_uid(jobs, ctx):
    obj = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi"},
           "spec": {"template": {"spec": {"restartPolicy": "Never",
                                          "containers": [{"name": "pi", "image": "perl"}]}}}}
    out = orjson.loads(jobs.create("default", obj, ctx))
    uid = out["metadata"]["uid"]
    assert out["spec"]["selector"]["matchLabels"] == {CONTROLLER_UID: uid}
    assert out["spec"]["template"]["metadata"]["labels"]["controller-uid"] == uid
    assert out["metadata"]["generation"] == 1

    def suspend(cur):
        cur["spec"]["suspend"] = True
        return cur
    doc, _ = jobs.guaranteed_update("default", "pi", suspend, ctx)
    assert orjson.loads(doc)["metadata"]["generation"] == 2
    status_ctx = RequestContext(user=ctx.user, field_manager="tests", subresource="status")
    doc, _ = jobs.guaranteed_update("default", "pi", lambda c: {**c, "status": {"active": 1}}, status_ctx)
    assert orjson.loads(doc)["metadata"]["generation"] == 2


def test_store_rejects_always(jobs, ctx):
    obj = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi"},
           "spec": {"template": {"spec": {"containers": [{"name": "pi", "image": "perl"}]}}}}
    with pytest.raises(errors.Invalid) as exc:
        jobs.create("default", obj, ctx)
    assert [(c.reason, c.field, c.message) for c in exc.value.causes] == [
        ("FieldValueRequired", "spec.template.spec.restartPolicy",
         'Required value: valid values: "OnFailure", "Never"')]
