"""batch/v1 CronJob: defaults, schedule parsing (robfig/cron texts), validation, printing."""
from __future__ import annotations

import pytest

from resources.batch.cronjobs import CronJobStrategy, parse_schedule
from apiserver.registry.context import RequestContext


def cronjob(schedule="*/5 * * * *", name="hello", **spec):
    return {"metadata": {"name": name, "namespace": "default",
                         "creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"schedule": schedule, **spec,
                     "jobTemplate": {"spec": {"template": {"spec": {
                         "restartPolicy": "OnFailure",
                         "containers": [{"name": "hello", "image": "busybox"}]}}}}}}


def defaulted(obj):
    CronJobStrategy().default(obj)
    return obj


def texts(errs):
    return [e.error_text() for e in errs]


def test_defaults():
    spec = defaulted(cronjob())["spec"]
    assert spec["concurrencyPolicy"] == "Allow" and spec["suspend"] is False
    assert spec["successfulJobsHistoryLimit"] == 3 and spec["failedJobsHistoryLimit"] == 1
    job_spec = spec["jobTemplate"]["spec"]
    assert "backoffLimit" not in job_spec                       # a JobSpec, not a Job
    assert job_spec["template"]["spec"]["schedulerName"] == "default-scheduler"


@pytest.mark.parametrize("schedule", ["*/5 * * * *", "0 0 * * 0", "@hourly", "@every 1h30m",
                                      "0 9-17/2 1,15 jan-jun mon-fri", "? * * * *", "5/15 * * * *"])
def test_valid_schedules(schedule):
    assert parse_schedule(schedule) == ""


@pytest.mark.parametrize("schedule,message", [
    ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
    ("* * * * * *", "expected exactly 5 fields, found 6: [* * * * * *]"),
    ("60 * * * *", "end of range (60) above maximum (59): 60"),
    ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
    ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
    ("x * * * *", 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'),
    ("*/0 * * * *", "step of range should be a positive number: */0"),
    ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
    ("@weekdays", "unrecognized descriptor: @weekdays"),
])
def test_invalid_schedules(schedule, message):
    assert parse_schedule(schedule) == message


def test_validation_messages():
    s = CronJobStrategy()
    assert texts(s.validate(RequestContext(), defaulted(cronjob()))) == []
    assert texts(s.validate(RequestContext(), defaulted(cronjob(schedule="")))) == ["spec.schedule: Required value"]
    assert texts(s.validate(RequestContext(), defaulted(cronjob(schedule="61 * * * *")))) == [
        'spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61']
    assert texts(s.validate(RequestContext(), defaulted(cronjob(schedule="TZ=UTC 0 * * * *")))) == [
        'spec.schedule: Invalid value: "TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in schedule, '
        'use timeZone field instead']
    assert texts(s.validate(RequestContext(), defaulted(cronjob(timeZone="Mars/Olympus")))) == [
        'spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus']
    assert texts(s.validate(RequestContext(), defaulted(cronjob(timeZone="Europe/Berlin")))) == []
    assert texts(s.validate(RequestContext(), defaulted(cronjob(name="x" * 53))))[-1] == (
        f'metadata.name: Invalid value: "{"x" * 53}": must be no more than 52 characters')
    bad = defaulted(cronjob(concurrencyPolicy="Sometimes"))
    assert texts(s.validate(RequestContext(), bad)) == ['spec.concurrencyPolicy: Unsupported value: "Sometimes": '
                                      'supported values: "Allow", "Forbid", "Replace"']
    always = defaulted(cronjob())
    always["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    assert texts(s.validate(RequestContext(), always)) == ['spec.jobTemplate.spec.template.spec.restartPolicy: Required '
                                         'value: valid values: "OnFailure", "Never"']
    selected = defaulted(cronjob())
    selected["spec"]["jobTemplate"]["spec"]["selector"] = {"matchLabels": {"a": "b"}}
    assert texts(s.validate(RequestContext(), selected))[0].endswith("`selector` will be auto-generated")


def test_table_row():
    s = CronJobStrategy()
    obj = defaulted(cronjob(timeZone="Etc/UTC"))
    obj["status"] = {"active": [{"name": "j1"}]}
    row = s.table_row(obj)
    assert row[:6] == ["hello", "*/5 * * * *", "Etc/UTC", "False", 1, "<none>"]
    assert row[7:] == ["hello", "busybox", "<none>"]
    assert [c.name for c in s.columns] == ["Name", "Schedule", "Timezone", "Suspend", "Active",
                                           "Last Schedule", "Age", "Containers", "Images", "Selector"]
    assert CronJobStrategy.short_names == ("cj",)
