"""Schedule math and Job construction for the cronjob controller (upstream
pkg/controller/cronjob/utils.go, release-1.32; schedules as github.com/robfig/cron/v3
``ParseStandard`` reads them, evaluated here with croniter).

Times are timezone-aware ``datetime``s.  ``Schedule.next(t)`` is the first activation strictly
after ``t`` in the schedule's zone (``spec.timeZone``, a ``TZ=``/``CRON_TZ=`` prefix, or UTC:
the zone this controller manager runs in).
"""
from __future__ import annotations

import copy
import enum
import re
import zoneinfo
from datetime import datetime, timedelta, timezone

from croniter import croniter

from . import podutil

SCHEDULED_TIMESTAMP = "batch.kubernetes.io/cronjob-scheduled-timestamp"
NEXT_SCHEDULE_DELTA = 0.1          # upstream nextScheduleDelta: requeue just past the slot
TOO_MANY = 100                     # more missed start times than this is "too many"
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


class Missed(enum.Enum):
    NONE = 0
    FEW = 1
    MANY = 2


class ScheduleError(ValueError):
    pass


def _duration(text: str) -> float:
    pos, total = 0, 0.0
    for m in _DURATION_PART.finditer(text):
        if m.start() != pos:
            raise ScheduleError(f"time: invalid duration {text!r}")
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise ScheduleError(f"time: invalid duration {text!r}")
    return total


class Schedule:
    """A parsed schedule; raises ScheduleError for what ``ParseStandard`` rejects."""

    def __init__(self, spec: str, time_zone: str | None = None):
        spec = spec.strip()
        zone = time_zone
        if spec.startswith(("TZ=", "CRON_TZ=")):
            head, _, spec = spec.partition(" ")
            zone = head.split("=", 1)[1]
            spec = spec.strip()
        try:
            self.zone = zoneinfo.ZoneInfo(zone) if zone else timezone.utc
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ScheduleError(f"provided bad location {zone}: {exc}") from None
        self.every = None
        if spec.startswith("@every "):
            self.every = max(1.0, float(int(_duration(spec[len("@every "):].strip()))))
            self.expr = spec
            return
        self.expr = spec.replace("?", "*")
        if not croniter.is_valid(self.expr):
            raise ScheduleError(f"unparseable schedule {spec!r}")
        # robfig/cron (spec.go dayMatches): the days match when day-of-month OR day-of-week
        # does, unless either field starts with "*" (so "*/2" too), then both must
        fields = self.expr.split()
        self.day_or = len(fields) != 5 or not (fields[2].startswith("*") or
                                               fields[4].startswith("*"))

    def next(self, t: datetime) -> datetime | None:
        """The first activation after ``t`` (None when there is none, e.g. "0 0 31 2 *")."""
        if self.every is not None:   # robfig ConstantDelaySchedule: whole seconds after t
            return (t + timedelta(seconds=self.every)).replace(microsecond=0)
        start = t.astimezone(self.zone)
        try:
            return croniter(self.expr, start, day_or=self.day_or).get_next(
                datetime).astimezone(timezone.utc)
        except Exception:             # croniter's CroniterBadDateError and friends
            return None


def parse_time(text: str | None) -> datetime | None:
    ts = podutil.parse_time(text)
    return None if ts is None else datetime.fromtimestamp(ts, timezone.utc)


def format_time(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_in(t: datetime, zone) -> str:
    """Go's ``time.RFC3339`` of ``t`` in ``zone``: "Z" for UTC, else the offset."""
    local = t.astimezone(zone).replace(microsecond=0)
    text = local.isoformat()
    return text[:-6] + "Z" if local.utcoffset() == timedelta(0) else text


def most_recent_schedule_time(cj: dict, now: datetime, sched: Schedule,
                              include_deadline: bool):
    """``mostRecentScheduleTime``: (the earliest time considered, the latest activation in
    (earliest, now] or None, how many were missed).  Raises ScheduleError for a schedule
    whose activations are less than a second apart (or that never fires)."""
    status, spec = cj.get("status") or {}, cj.get("spec") or {}
    earliest = parse_time(status.get("lastScheduleTime")) or \
        parse_time(cj["metadata"].get("creationTimestamp")) or now
    deadline = spec.get("startingDeadlineSeconds")
    if include_deadline and deadline is not None:
        # the controller will not schedule anything earlier than this point
        earliest = max(earliest, now - timedelta(seconds=int(deadline)))
    t1 = sched.next(earliest)
    if t1 is None:
        raise ScheduleError("time difference between two schedules is less than 1 second")
    if now < t1:
        return earliest, None, Missed.NONE
    t2 = sched.next(t1)
    if t2 is None or (t2 - t1).total_seconds() < 1:
        raise ScheduleError("time difference between two schedules is less than 1 second")
    if now < t2:
        return earliest, t1, Missed.FEW
    # Walk the activations when there are few of them (exact for schedules with uneven
    # gaps); past TOO_MANY, estimate from the first gap as upstream does, rather than
    # spending unbounded time on a clock that is off by years.
    latest, seen = t2, 2
    while seen <= TOO_MANY:
        following = sched.next(latest)
        if following is None or following > now:
            return earliest, latest, Missed.FEW
        latest, seen = following, seen + 1
    gap = int(round((t2 - t1).total_seconds()))
    missed = int((now - t1).total_seconds()) // gap + 1
    recent = datetime.fromtimestamp(int(t1.timestamp()) + (missed - 1) * gap, timezone.utc)
    return earliest, recent, Missed.MANY


def next_schedule_time(cj: dict, now: datetime, sched: Schedule):
    """``nextScheduleTime``: (the unmet activation to start now or None, whether too many
    were missed — the caller warns TooManyMissedTimes)."""
    _, recent, missed = most_recent_schedule_time(cj, now, sched, True)
    if recent is None or recent > now:
        return None, False
    return recent, missed is Missed.MANY


def next_schedule_delay(cj: dict, now: datetime, sched: Schedule) -> float:
    """``nextScheduleTimeDuration``: seconds until just after the next activation."""
    try:
        earliest, recent, missed = most_recent_schedule_time(cj, now, sched, False)
        if recent is None:
            recent = earliest if missed is Missed.NONE else now
    except ScheduleError:
        recent = now
    nxt = sched.next(recent) or sched.next(now)
    if nxt is None:
        return 3600.0
    return (nxt - now).total_seconds() + NEXT_SCHEDULE_DELTA


def job_name(cj: dict, scheduled: datetime) -> str:
    """``getJobName``: the CronJob's name and the scheduled time in minutes since the epoch,
    so that one activation can only ever create one Job."""
    return f"{cj['metadata']['name']}-{int(scheduled.timestamp()) // 60}"


def job_from_template(cj: dict, scheduled: datetime, zone) -> dict:
    """``getJobFromTemplate2``: the jobTemplate's labels, annotations (plus the scheduled
    time in the schedule's zone) and spec, named after the activation, owned by the
    CronJob."""
    template = cj["spec"].get("jobTemplate") or {}
    meta = template.get("metadata") or {}
    annotations = dict(meta.get("annotations") or {})
    annotations[SCHEDULED_TIMESTAMP] = rfc3339_in(scheduled, zone)
    m = cj["metadata"]
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": job_name(cj, scheduled), "namespace": m["namespace"],
                         "labels": dict(meta.get("labels") or {}),
                         "annotations": annotations,
                         "ownerReferences": [podutil.owner_reference(cj)]},
            "spec": copy.deepcopy(template.get("spec") or {})}
