"""The batch API group.  ``KINDS`` lists its Strategy classes."""

KINDS = (
    "resources.batch.jobs.JobStrategy",
    "resources.batch.cronjobs.CronJobStrategy",
)
