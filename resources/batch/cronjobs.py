"""batch/v1 CronJob.

Upstream: ``SetDefaults_CronJob`` (``pkg/apis/batch/v1/defaults.go``), ``ValidateCronJobCreate``
/ ``ValidateCronJobUpdate`` (``pkg/apis/batch/validation/validation.go``; schedules parsed by
``github.com/robfig/cron/v3`` ``ParseStandard``, whose error texts :func:`parse_schedule`
reproduces), ``pkg/registry/batch/cronjob/strategy.go`` and ``printCronJob``.
"""
from __future__ import annotations

import re
import zoneinfo

from apiserver.registry.printers import age, since
from apiserver.registry.strategy import AGE_COLUMN, NAME_COLUMN, STATUS, Column, Strategy
from apiserver.runtime import errors
from apiserver.runtime.validation import validate_nonnegative
from resources import podtemplate as pt
from resources.batch.jobs import validate_job_spec

_SPEC = "io.k8s.api.batch.v1.CronJobSpec"
_STATUS = "io.k8s.api.batch.v1.CronJobStatus"

# robfig/cron bounds: (min, max, names)
_MONTHS = {m: i + 1 for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}
_DAYS = {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
_FIELDS = ((0, 59, None), (0, 23, None), (1, 31, None), (1, 12, _MONTHS), (0, 6, _DAYS))
_DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_DURATION = re.compile(r"[-+]?((\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+|[-+]?0")
_TZ_PART = re.compile(r"[A-Za-z.\-_0-9+]{1,14}")


class CronJobStrategy(Strategy):
    group = "batch"
    kind = "CronJob"
    plural = "cronjobs"
    short_names = ("cj",)
    categories = ("all",)
    subresources = (STATUS,)
    schema_name = "io.k8s.api.batch.v1.CronJob"
    tracks_generation = True
    columns = (NAME_COLUMN,
               Column("Schedule", description=pt.doc(_SPEC, "schedule")),
               Column("Timezone", description=pt.doc(_SPEC, "timeZone")),
               Column("Suspend", "boolean", description=pt.doc(_SPEC, "suspend")),
               Column("Active", "integer", description=pt.doc(_STATUS, "active")),
               Column("Last Schedule", description=pt.doc(_STATUS, "lastScheduleTime")),
               AGE_COLUMN,
               *pt.wide_columns(pt.doc("io.k8s.api.batch.v1.JobSpec", "selector")))

    def default(self, obj):
        """``SetDefaults_CronJob``; the job template's pod spec gets the PodSpec defaults
        (the JobSpec itself is not defaulted: it is not a Job)."""
        spec = obj.setdefault("spec", {})
        if not spec.get("concurrencyPolicy"):
            spec["concurrencyPolicy"] = "Allow"
        if spec.get("suspend") is None:
            spec["suspend"] = False
        if spec.get("successfulJobsHistoryLimit") is None:
            spec["successfulJobsHistoryLimit"] = 3
        if spec.get("failedJobsHistoryLimit") is None:
            spec["failedJobsHistoryLimit"] = 1
        job_spec = spec.setdefault("jobTemplate", {}).setdefault("spec", {})
        pt.default_pod_template(job_spec.setdefault("template", {}))

    def prepare_for_create(self, ctx, obj):
        obj["status"] = {}

    def validate(self, ctx, obj):
        errs = validate_cronjob_spec(obj.get("spec") or {}, None)
        name = obj["metadata"].get("name") or ""
        if len(name) > 52:   # the controller appends an 11-character suffix for its Jobs
            errs.append(errors.invalid("metadata.name", name, "must be no more than 52 characters"))
        return errs

    def validate_update(self, ctx, new, old):
        """The 52-character name limit is not re-checked on update, as upstream."""
        return validate_cronjob_spec(new.get("spec") or {}, old.get("spec") or {})

    def table_row(self, obj):
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        template = (spec.get("jobTemplate") or {}).get("spec") or {}
        names, images = pt.container_cells(template.get("template"))
        last = since(status["lastScheduleTime"]) if status.get("lastScheduleTime") else "<none>"
        suspend = spec.get("suspend")
        return [obj["metadata"]["name"], spec.get("schedule", ""),
                spec.get("timeZone") if spec.get("timeZone") is not None else "<none>",
                "<unset>" if suspend is None else ("True" if suspend else "False"),
                len(status.get("active") or []), last, age(obj), names, images,
                pt.format_selector(template.get("selector"))]


def validate_cronjob_spec(spec: dict, old_spec: dict | None) -> list:
    """``validateCronJobSpec``."""
    errs = []
    schedule = spec.get("schedule") or ""
    if not schedule:
        errs.append(errors.required("spec.schedule"))
    else:
        message = parse_schedule(schedule)
        if message:
            errs.append(errors.invalid("spec.schedule", schedule, message))
        allow_tz = old_spec is not None and "TZ" in (old_spec.get("schedule") or "")
        if allow_tz and "TZ" in schedule and spec.get("timeZone") is not None:
            errs.append(errors.invalid("spec.schedule", schedule,
                                       "cannot use both timeZone field and TZ or CRON_TZ in schedule"))
        elif not allow_tz and "TZ" in schedule:
            errs.append(errors.invalid("spec.schedule", schedule,
                                       "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
    if isinstance(spec.get("startingDeadlineSeconds"), int):
        errs += validate_nonnegative(spec["startingDeadlineSeconds"], "spec.startingDeadlineSeconds")
    if old_spec is None or old_spec.get("timeZone") != spec.get("timeZone"):
        errs += _validate_time_zone(spec.get("timeZone"))
    policy = spec.get("concurrencyPolicy") or ""
    if not policy:
        errs.append(errors.required("spec.concurrencyPolicy"))
    elif policy not in ("Allow", "Forbid", "Replace"):
        errs.append(errors.not_supported("spec.concurrencyPolicy", policy, ["Allow", "Forbid", "Replace"]))
    job = (spec.get("jobTemplate") or {}).get("spec") or {}
    errs += validate_job_spec(job, "spec.jobTemplate.spec", template_only=True)
    if job.get("selector") is not None:
        errs.append(errors.invalid("spec.jobTemplate.spec.selector", pt.go_label_selector(job["selector"]),
                                   "`selector` will be auto-generated"))
    if job.get("manualSelector"):
        errs.append(errors.not_supported("spec.jobTemplate.spec.manualSelector", True, ["nil", "false"]))
    for key in ("successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        if isinstance(spec.get(key), int):
            errs += validate_nonnegative(spec[key], f"spec.{key}")
    return errs


def _validate_time_zone(tz) -> list:
    if tz is None:
        return []
    if tz == "":
        return [errors.invalid("spec.timeZone", tz, "timeZone must be nil or non-empty string")]
    for part in tz.split("/"):
        if part in (".", "..") or part.startswith("-") or not _TZ_PART.fullmatch(part):
            return [errors.invalid("spec.timeZone", tz, f"unknown time zone {tz}")]
    if tz.lower() == "local":
        return [errors.invalid("spec.timeZone", tz, "timeZone must be an explicit time zone as "
                               "defined in https://www.iana.org/time-zones")]
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return [errors.invalid("spec.timeZone", tz, f"unknown time zone {tz}")]
    return []


# ---------------------------------------------------------------- cron schedules

def parse_schedule(spec: str) -> str:
    """Check a schedule as robfig/cron ``ParseStandard`` does; return its error text or "".

    Five fields (minute hour day-of-month month day-of-week) of ``*``/``?``, numbers, names,
    ranges ``a-b``, steps ``/n`` and lists; or a descriptor (``@hourly``, ``@every 1h30m``);
    optionally prefixed by ``TZ=zone`` / ``CRON_TZ=zone``."""
    if not spec:
        return "empty spec string"
    if spec.startswith("TZ=") or spec.startswith("CRON_TZ="):
        space = spec.find(" ")
        zone = spec[spec.find("=") + 1:space if space >= 0 else len(spec)]
        try:
            zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return f"provided bad location {zone}: unknown time zone {zone}"
        spec = spec[space:].strip() if space >= 0 else ""
    if spec.startswith("@"):
        if spec in _DESCRIPTORS:
            return ""
        if spec.startswith("@every "):
            duration = spec[len("@every "):]
            if not _DURATION.fullmatch(duration):
                return f'failed to parse duration {spec}: time: invalid duration "{duration}"'
            return ""
        return f"unrecognized descriptor: {spec}"
    fields = spec.split()
    if len(fields) != 5:
        return f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]"
    for text, bounds in zip(fields, _FIELDS):
        for expr in [e for e in text.split(",") if e]:
            message = _check_range(expr, *bounds)
            if message:
                return message
    return ""


def _parse_int(expr: str, names) -> tuple[int | None, str]:
    if names and expr.lower() in names:
        return names[expr.lower()], ""
    if not re.fullmatch(r"[+-]?\d+", expr):
        return None, f'failed to parse int from {expr}: strconv.Atoi: parsing "{expr}": invalid syntax'
    value = int(expr)
    if value < 0:
        return None, f"negative number ({value}) not allowed: {expr}"
    return value, ""


def _check_range(expr: str, lo: int, hi: int, names) -> str:
    """robfig/cron ``getRange``: the same checks, in the same order, with the same texts."""
    range_and_step = expr.split("/")
    low_high = range_and_step[0].split("-")
    if low_high[0] in ("*", "?"):
        start, end = lo, hi
    else:
        start, err = _parse_int(low_high[0], names)
        if err:
            return err
        if len(low_high) == 1:
            end = start
        elif len(low_high) == 2:
            end, err = _parse_int(low_high[1], names)
            if err:
                return err
        else:
            return f"too many hyphens: {expr}"
    step = 1
    if len(range_and_step) == 2:
        step, err = _parse_int(range_and_step[1], None)
        if err:
            return err
        if len(low_high) == 1:      # "N/step" means "N-max/step"
            end = hi
    elif len(range_and_step) > 2:
        return f"too many slashes: {expr}"
    if start < lo:
        return f"beginning of range ({start}) below minimum ({lo}): {expr}"
    if end > hi:
        return f"end of range ({end}) above maximum ({hi}): {expr}"
    if start > end:
        return f"beginning of range ({start}) beyond end of range ({end}): {expr}"
    if step == 0:
        return f"step of range should be a positive number: {expr}"
    return ""
