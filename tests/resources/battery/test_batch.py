"""The generic battery for the batch/v1 kinds."""
from __future__ import annotations

from tests.resources.battery.base import KindBattery
from tests.resources.battery.test_core import _set, container

G = "batch"


def job_template() -> dict:
    return {"template": {"spec": {"containers": [container()], "restartPolicy": "Never"}}}


class TestJob(KindBattery):
    group, resource = G, "jobs"

    def valid(self, name):
        return {"metadata": {"name": name}, "spec": job_template()}

    def invalid(self):
        v = self.valid
        return [(_set(v("restart-always"), "spec.template.spec.restartPolicy", "Always"),
                 "spec.template.spec.restartPolicy"),
                (_set(v("neg-parallelism"), "spec.parallelism", -1), "spec.parallelism"),
                # completions default to 1 only when parallelism is unset too (SetDefaults_Job)
                (_set(_set(v("indexed"), "spec.completionMode", "Indexed"), "spec.parallelism", 2),
                 "spec.completions")]


class TestCronJob(KindBattery):
    group, resource = G, "cronjobs"

    def valid(self, name):
        return {"metadata": {"name": name},
                "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": job_template()}}}

    def invalid(self):
        v = self.valid
        return [(_set(v("bad-schedule"), "spec.schedule", "every minute"), "spec.schedule"),
                (_set(v("bad-policy"), "spec.concurrencyPolicy", "Sometimes"),
                 "spec.concurrencyPolicy"),
                (v("x" * 53), "metadata.name")]
