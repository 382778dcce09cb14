"""``--admission-control-config-file``: the AdmissionConfiguration that hands each plugin
its own configuration.

Upstream: k8s.io/apiserver ``pkg/admission/config.go`` (``ReadAdmissionConfiguration``) and
``pkg/apis/apiserver/types.go``.  A plugin entry carries its configuration inline
(``configuration``) or names a file (``path``, relative to the AdmissionConfiguration's own
directory); inline wins, as upstream's ``GetAdmissionPluginConfigurationFor``.  Each plugin
receives the decoded document (a dict) or ``None`` when nothing was given for it.  A file
that is no AdmissionConfiguration but has the legacy top-level ``podNodeSelectorPluginConfig``
or ``imagePolicy`` key is, as upstream, the whole configuration of PodNodeSelector and
ImagePolicyWebhook.  Stricter than upstream (which ignores them): an entry naming an unknown
plugin, or a plugin twice, refuses the start.
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


# plugins whose configuration once was the whole unversioned file (upstream
# ``legacyPluginsWithUnversionedConfig``), recognised by these top-level keys
LEGACY_PLUGINS = ("ImagePolicyWebhook", "PodNodeSelector")
LEGACY_KEYS = ("imagePolicy", "podNodeSelectorPluginConfig")


def _legacy(doc: dict, known) -> dict[str, dict] | None:
    """Upstream ``ReadAdmissionConfiguration``'s fallback: a file that is no
    AdmissionConfiguration but carries one of the legacy keys is handed whole to both
    legacy plugins, for backward compatibility."""
    if not any(key in doc for key in LEGACY_KEYS):
        return None
    return {name: doc for name in LEGACY_PLUGINS if not known or name in known}


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
        legacy = _legacy(doc, known)
        if legacy is not None:
            return legacy
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
