"""batch/v1 Job.

Upstream: ``SetDefaults_Job`` (``pkg/apis/batch/v1/defaults.go``), ``ValidateJob`` /
``ValidateJobUpdate`` (``pkg/apis/batch/validation/validation.go``), selector generation in
``pkg/registry/batch/job/strategy.go`` (``generateSelector``) and ``printJob``.
"""
from __future__ import annotations

import json

from apiserver.registry.printers import age, human_duration, parse_time, since
from apiserver.registry.strategy import AGE_COLUMN, NAME_COLUMN, STATUS, Column, Strategy
from apiserver.runtime import errors
from apiserver.runtime.selectors import label_selector_from_dict, validate_label_selector
from apiserver.runtime.validation import GoText, validate_immutable, validate_nonnegative
from resources import podtemplate as pt

CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
JOB_NAME = "batch.kubernetes.io/job-name"
LEGACY_CONTROLLER_UID = "controller-uid"
LEGACY_JOB_NAME = "job-name"


class JobStrategy(Strategy):
    group = "batch"
    kind = "Job"
    plural = "jobs"
    categories = ("all",)
    subresources = (STATUS,)
    schema_name = "io.k8s.api.batch.v1.Job"
    tracks_generation = True
    # upstream pkg/registry/batch/job/strategy.go: batch/v1 Jobs orphan their pods unless a
    # policy is named (kubectl names Background)
    default_garbage_collection_policy = "OrphanDependents"
    # upstream JobToSelectableFields
    selectable_fields = {"status.successful": lambda o: str((o.get("status") or {}).get("succeeded", 0))}
    columns = (NAME_COLUMN,
               Column("Status", description="Status of the job."),
               Column("Completions", description=pt.doc("io.k8s.api.batch.v1.JobStatus", "succeeded")),
               Column("Duration", description="Time required to complete the job."),
               AGE_COLUMN,
               *pt.wide_columns(pt.doc("io.k8s.api.batch.v1.JobSpec", "selector")))

    def default(self, obj):
        """``SetDefaults_Job`` (metadata.labels copied from the template when empty)."""
        spec = obj.setdefault("spec", {})
        default_job_spec(spec)
        labels = (spec.get("template").get("metadata") or {}).get("labels")
        if labels and not obj.setdefault("metadata", {}).get("labels"):
            obj["metadata"]["labels"] = dict(labels)

    def prepare_for_create(self, ctx, obj):
        """Empty status; generate the selector and template labels unless manualSelector.

        Upstream decodes the stored object again, re-running the label defaulting, so a Job
        without labels of its own shows the generated template labels: done here directly."""
        obj["status"] = {}
        spec = obj.setdefault("spec", {})
        if not spec.get("manualSelector"):
            generate_selector(obj)
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels")
        if labels and not obj["metadata"].get("labels"):
            obj["metadata"]["labels"] = dict(labels)

    def validate(self, ctx, obj):
        errs = validate_generated_selector(obj)
        errs += validate_job_spec(obj.get("spec") or {}, "spec")
        return errs

    def validate_update(self, ctx, new, old):
        """As create (minus the generated-selector check), plus the immutable fields."""
        spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
        errs = validate_job_spec(spec, "spec")
        errs += validate_immutable(spec.get("completions"), old_spec.get("completions"),
                                   "spec.completions")
        errs += validate_immutable(spec.get("selector"), old_spec.get("selector"), "spec.selector",
                                   shown=pt.go_label_selector(spec.get("selector")))
        errs += validate_immutable(spec.get("template"), old_spec.get("template"), "spec.template",
                                   shown=GoText(json.dumps(spec.get("template"), sort_keys=True)))
        for key in ("completionMode", "podFailurePolicy", "backoffLimitPerIndex"):
            errs += validate_immutable(spec.get(key), old_spec.get(key), f"spec.{key}")
        return errs

    def validate_status_update(self, ctx, new, old):
        status = new.get("status") or {}
        errs = []
        for key in ("active", "succeeded", "failed", "ready", "terminating"):
            if isinstance(status.get(key), int):
                errs += validate_nonnegative(status[key], f"status.{key}")
        return errs

    def table_row(self, obj):
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        succeeded = status.get("succeeded", 0)
        if spec.get("completions") is not None:
            completions = f"{succeeded}/{spec['completions']}"
        elif (spec.get("parallelism") or 0) > 1:
            completions = f"{succeeded}/1 of {spec['parallelism']}"
        else:
            completions = f"{succeeded}/1"
        start, end = parse_time(status.get("startTime")), parse_time(status.get("completionTime"))
        if start is None:
            duration = ""
        elif end is None:
            duration = since(status.get("startTime"))
        else:
            duration = human_duration((end - start).total_seconds())
        names, images = pt.container_cells(spec.get("template"))
        return [obj["metadata"]["name"], job_status(obj), completions, duration, age(obj),
                names, images, pt.format_selector(spec.get("selector"))]


def default_job_spec(spec: dict) -> None:
    """The spec half of ``SetDefaults_Job``; the template gets the PodSpec defaults."""
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    if spec.get("parallelism") is None:
        spec["parallelism"] = 1
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = 2147483647 if spec.get("backoffLimitPerIndex") is not None else 6
    if spec.get("completionMode") is None:
        spec["completionMode"] = "NonIndexed"
    if spec.get("suspend") is None:
        spec["suspend"] = False
    for rule in ((spec.get("podFailurePolicy") or {}).get("rules") or []):
        for pattern in (rule or {}).get("onPodConditions") or []:
            if isinstance(pattern, dict) and not pattern.get("status"):
                pattern["status"] = "True"
    if spec.get("podReplacementPolicy") is None:
        spec["podReplacementPolicy"] = "Failed" if spec.get("podFailurePolicy") is not None \
            else "TerminatingOrFailed"
    if spec.get("manualSelector") is None:
        spec["manualSelector"] = False
    pt.default_pod_template(spec.setdefault("template", {}))


def generate_selector(obj: dict) -> None:
    """``generateSelector``: label the template with the Job's name and uid (legacy and
    batch.kubernetes.io keys, user values kept) and select on the uid.  Needs metadata.uid,
    so it runs in ``prepare_for_create``, after the Store filled it in."""
    meta = obj["metadata"]
    template = obj["spec"].setdefault("template", {})
    labels = template.setdefault("metadata", {}).setdefault("labels", {})
    for key in (LEGACY_JOB_NAME, JOB_NAME):
        labels.setdefault(key, meta.get("name", ""))
    for key in (LEGACY_CONTROLLER_UID, CONTROLLER_UID):
        labels.setdefault(key, meta.get("uid", ""))
    selector = obj["spec"].get("selector")
    if selector is None:
        selector = obj["spec"]["selector"] = {}
    match = selector.get("matchLabels")
    if match is None:
        match = selector["matchLabels"] = {}
    match.setdefault(CONTROLLER_UID, meta.get("uid", ""))


def validate_generated_selector(obj: dict) -> list:
    """``validateGeneratedSelector``: unless manualSelector, the template carries the
    generated labels and the selector selects them."""
    spec, meta = obj.get("spec") or {}, obj.get("metadata") or {}
    if spec.get("manualSelector") or spec.get("selector") is None:
        return []
    errs = [] if meta.get("uid") else [errors.required("metadata.uid")]
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    expected = {LEGACY_CONTROLLER_UID: meta.get("uid", ""), LEGACY_JOB_NAME: meta.get("name", ""),
                CONTROLLER_UID: meta.get("uid", ""), JOB_NAME: meta.get("name", "")}
    for key, value in expected.items():
        # upstream ValidateHasLabel: Required carries the expected value, Invalid the labels
        if key not in labels:
            errs.append(errors.required(f"spec.template.metadata.labels[{key}]", value))
        elif labels[key] != value:
            errs.append(errors.invalid(f"spec.template.metadata.labels[{key}]", pt.go_map(labels),
                                       f"must be '{value}'"))
    try:
        if not label_selector_from_dict(spec["selector"]).matches(expected):
            errs.append(errors.invalid("spec.selector", pt.go_label_selector(spec["selector"]),
                                       "`selector` not auto-generated"))
    except errors.APIError:
        pass
    return errs


def validate_job_spec(spec: dict, path: str, *, template_only: bool = False) -> list:
    """``ValidateJobSpec`` (``template_only``: the ``validateJobSpec`` part a CronJob's
    jobTemplate gets, without the selector checks)."""
    errs = []
    for key in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit",
                "ttlSecondsAfterFinished", "backoffLimitPerIndex", "maxFailedIndexes"):
        if isinstance(spec.get(key), int):
            errs += validate_nonnegative(spec[key], f"{path}.{key}")
    mode = spec.get("completionMode")
    if mode is not None and mode not in ("NonIndexed", "Indexed"):
        errs.append(errors.not_supported(f"{path}.completionMode", mode, ["NonIndexed", "Indexed"]))
    if mode == "Indexed" and spec.get("completions") is None:
        errs.append(errors.required(f"{path}.completions", "when completion mode is Indexed"))
    policy = spec.get("podReplacementPolicy")
    if policy is not None:
        allowed = ["Failed"] if spec.get("podFailurePolicy") is not None else ["Failed", "TerminatingOrFailed"]
        if policy not in allowed:
            errs.append(errors.not_supported(f"{path}.podReplacementPolicy", policy, allowed))
    template = spec.get("template") or {}
    errs += pt.validate_pod_template(template, f"{path}.template")
    restart = (template.get("spec") or {}).get("restartPolicy") or ""
    rp = f"{path}.template.spec.restartPolicy"
    if restart in ("", "Always"):
        errs.append(errors.required(rp, 'valid values: "OnFailure", "Never"'))
    elif restart not in ("OnFailure", "Never"):
        errs.append(errors.not_supported(rp, restart, ["OnFailure", "Never"]))
    elif spec.get("podFailurePolicy") is not None and restart != "Never":
        errs.append(errors.invalid(rp, restart, 'only "Never" is supported when podFailurePolicy is specified'))
    if template_only:
        return errs
    selector = spec.get("selector")
    if selector is None:
        errs.append(errors.required(f"{path}.selector"))
    else:
        errs += validate_label_selector(selector, f"{path}.selector")   # may be empty
    errs += pt.selector_matches_template(selector, template, f"{path}.template.metadata.labels")
    return errs


def job_status(obj: dict) -> str:
    """The STATUS cell of ``printJob`` (1.32)."""
    conditions = {c.get("type"): c.get("status") for c in (obj.get("status") or {}).get("conditions") or []}

    def true(kind):
        return conditions.get(kind) == "True"
    if true("Complete"):
        return "Complete"
    if true("Failed"):
        return "Failed"
    if obj["metadata"].get("deletionTimestamp"):
        return "Terminating"
    if true("Suspended"):
        return "Suspended"
    if true("FailureTarget"):
        return "FailureTarget"
    return "Running"
