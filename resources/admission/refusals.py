"""The errors admission plugins refuse with, shaped as upstream's.

* :func:`new_forbidden` is k8s.io/apiserver ``pkg/admission/errors.go`` ``NewForbidden``:
  the group-qualified resource and the object's name (the request's name, else the
  object's name or generateName, else ``Unknown``) in front of the reason;
* :func:`forbidden` is apimachinery's ``errors.NewForbidden(resource, name, err)``, which
  some plugins call directly with the pod's own name;
* :class:`PlainError` is what a plain Go ``error`` (``fmt.Errorf``) returned by a plugin
  becomes on the wire: ``ErrorToAPIStatus`` makes it a 500 Status with an empty reason
  (``StatusReasonUnknown``) and the error's text as the message.
"""
from __future__ import annotations

from apiserver.runtime import errors


class PlainError(errors.APIError):
    code, reason = 500, ""


def forbidden(resource: str, group: str, name: str, message: str) -> errors.Forbidden:
    qualified = f"{resource}.{group}" if group else resource
    if not qualified:
        text = f"forbidden: {message}"
    elif name:
        text = f'{qualified} "{name}" is forbidden: {message}'
    else:
        text = f"{qualified} is forbidden: {message}"
    details = {"kind": resource}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    return errors.Forbidden(text, details=details)


def object_name(attrs) -> str:
    """Upstream ``extractResourceName``: the request's name, else the object's name or
    generateName (names are generated after admission upstream), else ``Unknown``."""
    if attrs.name:
        return attrs.name
    meta = (attrs.obj or {}).get("metadata") if isinstance(attrs.obj, dict) else None
    if isinstance(meta, dict):
        return meta.get("name") or meta.get("generateName") or "Unknown"
    return "Unknown"


def new_forbidden(attrs, message: str) -> errors.Forbidden:
    return forbidden(attrs.resource, attrs.group, object_name(attrs), message)
