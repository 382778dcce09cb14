"""``--admission-control-config-file``: the AdmissionConfiguration that hands each plugin
its own configuration.

Upstream: k8s.io/apiserver ``pkg/admission/config.go`` (``ReadAdmissionConfiguration``) and
``pkg/apis/apiserver/types.go``.  A plugin entry carries its configuration inline
(``configuration``) or names a file (``path``, relative to the AdmissionConfiguration's own
directory); inline wins, as upstream's ``GetAdmissionPluginConfigurationFor``.  Each plugin
receives the decoded document (a dict) or ``None`` when nothing was given for it.
"""
from __future__ import annotations

import os

import yaml

# the group/versions upstream's decoder accepts for the file itself
ACCEPTED = {("apiserver.config.k8s.io/v1", "AdmissionConfiguration"),
            ("apiserver.k8s.io/v1alpha1", "AdmissionConfiguration"),
            ("apiserver.config.k8s.io/v1alpha1", "AdmissionConfiguration")}


class AdmissionConfigError(ValueError):
    """The file cannot be used: the server refuses to start, naming the reason."""


def _load(path: str, what: str):
    try:
        with open(path, "rb") as f:
            return yaml.safe_load(f.read())
    except OSError as exc:
        raise AdmissionConfigError(f"unable to read {what} from {path!r}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise AdmissionConfigError(f"unable to decode {what} from {path!r}: {exc}") from None


def read(path: str, known=()) -> dict[str, dict]:
    """Plugin name → its configuration document, from the AdmissionConfiguration at
    ``path`` ("" means none: every plugin gets ``None``).  ``known`` (plugin names) lets a
    misspelt entry fail the start instead of being silently ignored."""
    if not path:
        return {}
    doc = _load(path, "admission plugin configuration")
    if not isinstance(doc, dict):
        raise AdmissionConfigError(f"{path}: not an AdmissionConfiguration object")
    if (doc.get("apiVersion"), doc.get("kind")) not in ACCEPTED:
        raise AdmissionConfigError(
            f'{path}: unsupported kind "{doc.get("kind")}" in version "{doc.get("apiVersion")}"; '
            "want AdmissionConfiguration in apiserver.config.k8s.io/v1")
    base = os.path.dirname(os.path.abspath(path))
    out: dict[str, dict] = {}
    for i, entry in enumerate(doc.get("plugins") or []):
        name = (entry or {}).get("name") or ""
        if not name:
            raise AdmissionConfigError(f"{path}: plugins[{i}].name is required")
        if known and name not in known:
            raise AdmissionConfigError(f'{path}: plugins[{i}]: admission plugin "{name}" is unknown')
        if name in out:
            raise AdmissionConfigError(f'{path}: plugins[{i}]: "{name}" is configured twice')
        if entry.get("configuration") is not None:
            conf = entry["configuration"]
        elif entry.get("path"):
            conf = _load(os.path.join(base, entry["path"]), f"configuration of {name}")
        else:
            continue
        if not isinstance(conf, dict):
            raise AdmissionConfigError(f"{path}: the configuration of {name} is not an object")
        out[name] = conf
    return out
