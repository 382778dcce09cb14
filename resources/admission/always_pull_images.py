"""AlwaysPullImages (upstream kubernetes/kubernetes:plugin/pkg/admission/alwayspullimages/admission.go).

Every container of a Pod (``initContainers``, ``containers``, ``ephemeralContainers``, in
that order, as upstream's ``VisitContainersWithPath``) gets ``imagePullPolicy: Always`` on
create, and on update unless the update brings no image the old Pod did not already use.
So an image a node already has cannot be run without the credentials to pull it.

The validating phase checks the same (a later mutating plugin or webhook may have changed
the policy): each offending container is ``admission.NewForbidden`` with the field error
``spec.containers[0].imagePullPolicy: Unsupported value: "IfNotPresent": supported values:
"Always"``, and the errors are returned as upstream's aggregate, which is not an API status
error, so the response is a 500 with that text (one error as is, several in brackets).
Subresources and other kinds are left alone.
"""
from __future__ import annotations

from apiserver.admission.base import Plugin
from apiserver.runtime import errors
from resources.admission.refusals import PlainError, new_forbidden

ALWAYS = "Always"
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


def containers_with_paths(pod: dict):
    """(path, container) for each container of the pod spec, upstream's visiting order."""
    spec = (pod or {}).get("spec")
    if not isinstance(spec, dict):
        return
    for key in CONTAINER_LISTS:
        items = spec.get(key)
        if not isinstance(items, list):
            continue
        for i, container in enumerate(items):
            if isinstance(container, dict):
                yield f"spec.{key}[{i}]", container


def _ignored(attrs) -> bool:
    if attrs.subresource or attrs.group != "" or attrs.resource != "pods":
        return True
    if not isinstance(attrs.obj, dict):
        return True
    return attrs.operation == "UPDATE" and _no_new_images(attrs.obj, attrs.old)


def _no_new_images(pod: dict, old: dict | None) -> bool:
    if not isinstance(old, dict):
        return False
    old_images = {c.get("image") for _, c in containers_with_paths(old)}
    return all(c.get("image") in old_images for _, c in containers_with_paths(pod))


def aggregate_message(messages: list[str]) -> str:
    """Upstream ``utilerrors.Aggregate.Error``: one message as is, repeats dropped, several
    joined in brackets."""
    unique = list(dict.fromkeys(messages))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


class AlwaysPullImages(Plugin):
    name = "AlwaysPullImages"
    mutating = True
    validating = True

    def handles(self, operation: str) -> bool:
        return operation in ("CREATE", "UPDATE")

    def admit(self, attrs):
        if _ignored(attrs):
            return
        for _, container in containers_with_paths(attrs.obj):
            container["imagePullPolicy"] = ALWAYS

    def validate(self, attrs):
        if _ignored(attrs):
            return
        messages = []
        for path, container in containers_with_paths(attrs.obj):
            policy = container.get("imagePullPolicy", "")
            if policy != ALWAYS:
                field = errors.not_supported(f"{path}.imagePullPolicy", policy, [ALWAYS])
                messages.append(new_forbidden(attrs, field.error_text()).message)
        if messages:
            raise PlainError(aggregate_message(messages))
