"""What the job controller asks of Jobs and their pods, kept apart from its sync loop
(upstream pkg/controller/job/: utils.go, indexed_job_utils.go, pod_failure_policy.go,
backoff_utils.go, and pkg/controller/job/util/utils.go).

Pure functions over JSON objects: conditions, the completion index of a pod and the
``completedIndexes`` interval text, the pod failure policy match, the pod back-off record, and
the pod a Job creates from its template.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

from apiserver.client.events import now_rfc3339

from . import podutil

TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
COMPLETION_INDEX_ENV = "JOB_COMPLETION_INDEX"
CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
JOB_NAME = "batch.kubernetes.io/job-name"
MANAGED_BY = "kubernetes.io/job-controller"
INDEX_FAILURE_COUNT = "batch.kubernetes.io/job-index-failure-count"
INDEX_IGNORED_FAILURE_COUNT = "batch.kubernetes.io/job-index-ignored-failure-count"

# upstream DefaultJobPodFailureBackOff and MaxJobPodFailureBackOff (job_controller.go)
BACKOFF_BASE = 10.0
BACKOFF_MAX = 600.0


# ---- conditions (utils.go, job_controller.go ensureJobConditionStatus) ---------------------
def condition(job: dict, type_: str) -> dict | None:
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("type") == type_:
            return c
    return None


def is_true(job: dict, type_: str) -> bool:
    c = condition(job, type_)
    return c is not None and c.get("status") == "True"


def finished_condition(job: dict) -> str | None:
    """``FinishedCondition``: "Complete" or "Failed" when the Job has finished, else None."""
    for type_ in ("Complete", "Failed"):
        if is_true(job, type_):
            return type_
    return None


def new_condition(type_: str, status: str, reason: str, message: str,
                  now: str | None = None) -> dict:
    now = now or now_rfc3339()
    return {"type": type_, "status": status, "lastProbeTime": now, "lastTransitionTime": now,
            "reason": reason, "message": message}


def ensure_condition(status: dict, type_: str, value: str, reason: str, message: str,
                     now: str | None = None) -> bool:
    """``ensureJobConditionStatus``: set the condition in ``status``; True when it changed.  A
    missing condition is only added when it would not be False."""
    conditions = status.setdefault("conditions", [])
    for c in conditions:
        if c.get("type") == type_:
            if (c.get("status"), c.get("reason"), c.get("message")) == (value, reason, message):
                return False
            now = now or now_rfc3339()
            c.update(status=value, reason=reason, message=message, lastTransitionTime=now,
                     lastProbeTime=now)
            return True
    if value == "False":
        if not conditions:
            status.pop("conditions")
        return False
    conditions.append(new_condition(type_, value, reason, message, now))
    return True


# ---- pods ------------------------------------------------------------------------------------
def phase(pod: dict) -> str | None:
    return (pod.get("status") or {}).get("phase")


def has_finalizer(pod: dict) -> bool:
    return TRACKING_FINALIZER in (pod["metadata"].get("finalizers") or [])


def only_replace_failed(job: dict) -> bool:
    """``onlyReplaceFailedPods``: podReplacementPolicy Failed, or a pod failure policy."""
    spec = job["spec"]
    return spec.get("podReplacementPolicy") == "Failed" or spec.get("podFailurePolicy") is not None


def is_pod_failed(pod: dict, job: dict) -> bool:
    """``isPodFailed``: Failed, or (unless only failed pods are replaced) deleted before it
    succeeded, so that orphaned pods that never reach Failed still count."""
    if phase(pod) == "Failed":
        return True
    if only_replace_failed(job):
        return False
    return bool(pod["metadata"].get("deletionTimestamp")) and phase(pod) != "Succeeded"


def is_terminating(pod: dict) -> bool:
    """``CountTerminatingPods``' test: being deleted and not yet terminal."""
    return bool(pod["metadata"].get("deletionTimestamp")) and \
        phase(pod) not in ("Succeeded", "Failed")


def finish_time(pod: dict, now: float) -> float:
    """``getFinishedTime``: the last container finish, else the Ready=False transition, else
    the deletion timestamp, else ``now``."""
    status = pod.get("status") or {}
    latest = None
    for cs in (status.get("initContainerStatuses") or []) + \
            (status.get("containerStatuses") or []):
        t = podutil.parse_time(((cs.get("state") or {}).get("terminated") or {}).get("finishedAt"))
        if t is not None and (latest is None or t > latest):
            latest = t
    if latest is not None:
        return latest
    ready = podutil.ready_condition(pod)
    if ready is not None and ready.get("status") == "False":
        t = podutil.parse_time(ready.get("lastTransitionTime"))
        if t is not None:
            return t
    t = podutil.parse_time(pod["metadata"].get("deletionTimestamp"))
    return t if t is not None else now


def restarts_of_running(pods: list[dict]) -> int:
    total = 0
    for p in pods:
        if phase(p) in ("Running", "Pending"):
            status = p.get("status") or {}
            for cs in (status.get("initContainerStatuses") or []) + \
                    (status.get("containerStatuses") or []):
                total += int(cs.get("restartCount") or 0)
    return total


def past_backoff_limit_on_failure(job: dict, pods: list[dict]) -> bool:
    """``pastBackoffLimitOnFailure``: with restartPolicy OnFailure the container restarts of
    running pods count against backoffLimit (any restart when the limit is 0)."""
    template = (job["spec"].get("template") or {}).get("spec") or {}
    if template.get("restartPolicy") != "OnFailure":
        return False
    limit = int(job["spec"].get("backoffLimit") or 0)
    restarts = restarts_of_running(pods)
    return restarts > 0 if limit == 0 else restarts >= limit


# ---- indexed jobs (indexed_job_utils.go) -----------------------------------------------------
def completion_index(pod: dict) -> int | None:
    """``getCompletionIndex``: the annotation (the label is a copy), None when unusable."""
    value = (pod["metadata"].get("annotations") or {}).get(COMPLETION_INDEX)
    if value is None:
        value = (pod["metadata"].get("labels") or {}).get(COMPLETION_INDEX)
    try:
        ix = int(value)
    except (TypeError, ValueError):
        return None
    return ix if ix >= 0 and str(ix) == value else None


def parse_indexes(text: str | None, completions: int) -> set[int]:
    """``parseIndexesFromString``: "1,3-5" as a set, ignoring what lies beyond completions."""
    out: set[int] = set()
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        try:
            a, b = int(lo), int(hi) if hi else int(lo)
        except ValueError:
            continue
        out.update(i for i in range(a, b + 1) if 0 <= i < completions)
    return out


def format_indexes(indexes) -> str:
    """Ordered intervals, as ``orderedIntervals.String``: {0,1,2,5} -> "0-2,5"."""
    parts, run = [], []
    for ix in sorted(indexes):
        if run and ix == run[-1] + 1:
            run.append(ix)
            continue
        if run:
            parts.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
        run = [ix]
    if run:
        parts.append(str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}")
    return ",".join(parts)


def first_pending_indexes(active: list[dict], succeeded: set[int], count: int,
                          completions: int) -> list[int]:
    """``firstPendingIndexes``: the lowest indexes neither succeeded nor held by an active
    pod."""
    taken = set(succeeded) | {ix for ix in map(completion_index, active) if ix is not None}
    out = []
    for ix in range(completions):
        if len(out) >= count:
            break
        if ix not in taken:
            out.append(ix)
    return out


def indexed_pods_for_removal(active: list[dict], succeeded: set[int],
                             completions: int) -> list[dict]:
    """Active pods of an Indexed Job without a valid index, with an index that already
    succeeded, or the extra holders of an index (``appendDuplicatedIndexPodsForRemoval``)."""
    out, seen = [], set()
    for pod in sorted(active, key=lambda p: (podutil.is_ready(p), phase(p) == "Running")):
        ix = completion_index(pod)
        if ix is None or ix >= completions or ix in succeeded or ix in seen:
            out.append(pod)
        else:
            seen.add(ix)
    return out


def pod_name_prefix(job_name: str, index: int) -> str:
    """``podGenerateNameWithIndex``: "<job>-<index>-", the job name cut to fit 63 chars."""
    suffix = f"-{index}-"
    room = 63 - 5 - len(suffix)       # the server appends five random characters
    return job_name[:room] + suffix


def pod_for_job(job: dict, index: int | None, annotations: dict | None = None) -> dict:
    """The pod a Job creates: its template with the tracking finalizer and the Job as
    controller; for an Indexed Job also the completion index (annotation, label, the
    JOB_COMPLETION_INDEX variable), hostname ``<job>-<index>`` and ``annotations`` (the
    index's failure counts under backoffLimitPerIndex) (upstream
    ``addCompletionIndexEnvVariables``, ``addCompletionIndexAnnotation``)."""
    template = copy.deepcopy(job["spec"].get("template") or {})
    meta = template.setdefault("metadata", {})
    finalizers = list(meta.get("finalizers") or [])
    if TRACKING_FINALIZER not in finalizers:
        finalizers.append(TRACKING_FINALIZER)
    meta["finalizers"] = finalizers
    name = job["metadata"]["name"]
    if index is not None:
        meta.setdefault("annotations", {})[COMPLETION_INDEX] = str(index)
        meta["annotations"].update(annotations or {})
        meta.setdefault("labels", {})[COMPLETION_INDEX] = str(index)
        spec = template.setdefault("spec", {})
        if not spec.get("hostname"):
            spec["hostname"] = f"{name}-{index}"
        env_source = {"fieldRef": {"fieldPath":
                                   f"metadata.annotations['{COMPLETION_INDEX}']"}}
        for key in ("initContainers", "containers"):
            for c in spec.get(key) or []:
                env = c.setdefault("env", [])
                if not any(e.get("name") == COMPLETION_INDEX_ENV for e in env):
                    env.append({"name": COMPLETION_INDEX_ENV, "valueFrom": env_source})
    pod = podutil.pod_from_template(job, template)
    if index is not None:
        pod["metadata"]["generateName"] = pod_name_prefix(name, index)
    return pod


# ---- success policy (success_policy.go) ------------------------------------------------------
def match_success_policy(policy: dict | None, completions: int,
                         succeeded: set[int]) -> str | None:
    """``matchSuccessPolicy``: the message naming the first rule the succeeded indexes meet
    (all of ``succeededIndexes``, or ``succeededCount`` of them or of all), else None."""
    if not policy or not succeeded:
        return None
    for i, rule in enumerate(policy.get("rules") or []):
        count = rule.get("succeededCount")
        if rule.get("succeededIndexes") is not None:
            required = parse_indexes(rule["succeededIndexes"], completions)
            if not required:
                continue
            met = len(required & succeeded)
            if met >= int(count) if count is not None else met == len(required):
                return f"Matched rules at index {i}"
        elif count is not None and len(succeeded) >= int(count):
            return f"Matched rules at index {i}"
    return None


# ---- backoffLimitPerIndex (indexed_job_utils.go) ---------------------------------------------
def _count(pod: dict, key: str) -> int:
    try:
        return max(0, int((pod["metadata"].get("annotations") or {}).get(key, "0")))
    except ValueError:
        return 0


def index_failure_count(pod: dict) -> int:
    """``getIndexFailureCount``: the failures of this pod's index before it."""
    return _count(pod, INDEX_FAILURE_COUNT)


def index_absolute_failure_count(pod: dict) -> int:
    """``getIndexAbsoluteFailureCount``: counted and ignored failures before this pod."""
    return _count(pod, INDEX_FAILURE_COUNT) + _count(pod, INDEX_IGNORED_FAILURE_COUNT)


def is_index_failed(job: dict, pod: dict) -> bool:
    """``isIndexFailed``: a FailIndex rule matched, or a counted failure found the index
    out of retries (``backoffLimitPerIndex``)."""
    if not is_pod_failed(pod, job):
        return False
    policy = job["spec"].get("podFailurePolicy")
    counted = True
    if policy:
        _, counted, action = match_pod_failure_policy(policy, pod)
        if action == "FailIndex":
            return True
    return counted and index_failure_count(pod) >= int(job["spec"]["backoffLimitPerIndex"])


def new_index_failure_counts(job: dict, replaced: dict | None) -> dict:
    """``getNewIndexFailureCounts`` as annotations for the pod that replaces ``replaced``
    (the index's last failed pod): its counts plus its own failure, counted or ignored."""
    failures = ignored = 0
    if replaced is not None:
        failures, ignored = index_failure_count(replaced), _count(replaced,
                                                                  INDEX_IGNORED_FAILURE_COUNT)
        if is_pod_failed(replaced, job):
            counted = match_pod_failure_policy(job["spec"].get("podFailurePolicy"), replaced)[1]
            if counted:
                failures += 1
            else:
                ignored += 1
    out = {INDEX_FAILURE_COUNT: str(failures)}
    if ignored:
        out[INDEX_IGNORED_FAILURE_COUNT] = str(ignored)
    return out


# ---- pod failure policy (pod_failure_policy.go) ---------------------------------------------
def _exit_code_matches(code: int, req: dict) -> bool:
    values = req.get("values") or []
    if req.get("operator") == "In":
        return code in values
    if req.get("operator") == "NotIn":
        return code not in values
    return False


def _matching_container(pod: dict, req: dict) -> dict | None:
    status = pod.get("status") or {}
    name = req.get("containerName")
    for cs in (status.get("initContainerStatuses") or []) + \
            (status.get("containerStatuses") or []):
        terminated = (cs.get("state") or {}).get("terminated")
        if terminated is None or (name and cs.get("name") != name):
            continue
        code = int(terminated.get("exitCode") or 0)
        if code != 0 and _exit_code_matches(code, req):     # exit code 0 never matches
            return cs
    return None


def _matching_condition(pod: dict, patterns: list[dict]) -> dict | None:
    for c in (pod.get("status") or {}).get("conditions") or []:
        for pattern in patterns:
            if c.get("type") == pattern.get("type") and \
                    c.get("status") == (pattern.get("status") or "True"):
                return c
    return None


def match_pod_failure_policy(policy: dict | None, pod: dict) -> tuple[str | None, bool, str | None]:
    """``matchPodFailurePolicy``: (the Job failure message when a FailJob rule matched,
    whether the failure counts against backoffLimit, the matched rule's action)."""
    if not policy or phase(pod) != "Failed":
        return None, True, None
    m = pod["metadata"]
    for i, rule in enumerate(policy.get("rules") or []):
        action = rule.get("action")
        message = None
        if rule.get("onExitCodes"):
            cs = _matching_container(pod, rule["onExitCodes"])
            if cs is None:
                continue
            code = cs["state"]["terminated"].get("exitCode")
            message = (f"Container {cs.get('name')} for pod {m['namespace']}/{m['name']} failed "
                       f"with exit code {code} matching {action} rule at index {i}")
        elif rule.get("onPodConditions"):
            c = _matching_condition(pod, rule["onPodConditions"])
            if c is None:
                continue
            message = (f"Pod {m['namespace']}/{m['name']} has condition {c.get('type')} "
                       f"matching {action} rule at index {i}")
        else:
            continue
        if action == "Ignore":
            return None, False, action
        if action == "FailJob":
            return message, True, action
        return None, True, action              # Count, FailIndex
    return None, True, None


# ---- back-off between pod recreations (backoff_utils.go) ------------------------------------
@dataclass
class BackoffRecord:
    failures_after_last_success: int = 0
    last_failure_time: float | None = None

    def next(self, new_succeeded: list[dict], new_failed: list[dict], now: float):
        """``newBackoffRecord``: failures since the last success extend the record, a success
        resets it (failures finishing after that success still count)."""
        failed = sorted(finish_time(p, now) for p in new_failed)
        if not new_succeeded:
            if not failed:
                return BackoffRecord(self.failures_after_last_success, self.last_failure_time)
            return BackoffRecord(self.failures_after_last_success + len(failed), failed[-1])
        last_success = max(finish_time(p, now) for p in new_succeeded)
        later = [t for t in failed if t > last_success]
        return BackoffRecord(len(later), later[-1] if later else None)

    def remaining(self, now: float, base: float = BACKOFF_BASE,
                  maximum: float = BACKOFF_MAX) -> float:
        """``getRemainingTimeForFailuresCount``: base * 2^(failures-1), capped, less the
        time since the last failure."""
        return remaining_backoff(self.failures_after_last_success, self.last_failure_time, now,
                                 base, maximum)


def remaining_backoff(failures: int, last_failure: float | None, now: float,
                      base: float = BACKOFF_BASE, maximum: float = BACKOFF_MAX) -> float:
    if failures <= 0 or last_failure is None:
        return 0.0
    delay = base
    for _ in range(1, failures):
        delay *= 2
        if delay >= maximum:
            delay = maximum
            break
    elapsed = now - last_failure
    return 0.0 if delay < elapsed else delay - elapsed
