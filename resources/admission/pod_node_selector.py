"""PodNodeSelector (upstream kubernetes/kubernetes:plugin/pkg/admission/podnodeselector/admission.go).

On pod create (not subresources) the pod's ``spec.nodeSelector`` is merged with its
namespace's node selector: the namespace annotation
``scheduler.alpha.kubernetes.io/node-selector`` (``key=value,key2=value2``), else the
cluster default ``clusterDefaultNodeSelector`` of the plugin configuration.

* mutating: a pod selector giving a key another value than the namespace's is refused
  (``pods "<name>" is forbidden: pod node label selector conflicts with its namespace node
  label selector``); otherwise the namespace's labels are added (the pod's own win, as
  ``labels.Merge``, which cannot disagree after the conflict check);
* validating: the same conflict check, then the namespace's whitelist (the configuration
  entry named after the namespace): the pod selector must be a subset of it, else
  ``pods "<name>" is forbidden: pod node label selector labels conflict with its namespace
  whitelist``.  An empty or absent whitelist allows everything.

The configuration is upstream's unversioned document (from --admission-control-config-file,
inline, by ``path``, or the whole legacy file)::

    podNodeSelectorPluginConfig:
      clusterDefaultNodeSelector: "env=dev"
      team-a: "env=dev,team=a"

A document that does not decode is ignored, as upstream's ``readConfig``.  Selector text
that does not parse is a plain error (500), as upstream returns
``labels.ConvertSelectorToLabelsMap``'s error unwrapped.
"""
from __future__ import annotations

import orjson

from apiserver.admission.base import Plugin
from apiserver.registry.initializer import WantsStores
from apiserver.runtime import errors
from apiserver.runtime.validation import is_qualified_name, is_valid_label_value
from resources.admission.refusals import PlainError, forbidden

ANNOTATION = "scheduler.alpha.kubernetes.io/node-selector"
CLUSTER_DEFAULT = "clusterDefaultNodeSelector"
CONFIG_KEY = "podNodeSelectorPluginConfig"


def selector_to_labels(text: str) -> dict:
    """apimachinery ``labels.ConvertSelectorToLabelsMap``: ``k=v`` pairs separated by
    commas, keys and values validated as labels; raises PlainError with upstream's text."""
    out: dict = {}
    if not text:
        return out
    for item in text.split(","):
        pair = item.split("=")
        if len(pair) != 2:
            raise PlainError("invalid selector: [" + " ".join(pair) + "]")
        key, value = pair[0].strip(), pair[1].strip()
        problems = is_qualified_name(key)
        if problems:
            raise PlainError(f'Invalid value: "{key}": ' + "; ".join(problems))
        problems = is_valid_label_value(value)
        if problems:
            raise PlainError(f'Invalid value: "{value}": ' + "; ".join(problems))
        out[key] = value
    return out


def conflicts(a: dict, b: dict) -> bool:
    """``labels.Conflicts``: some key has different values in the two sets."""
    return any(k in b and b[k] != v for k, v in a.items())


def is_subset(sub: dict, whitelist: dict) -> bool:
    return not whitelist or all(whitelist.get(k) == v and k in whitelist for k, v in sub.items())


def read_config(config: dict | None) -> dict[str, str]:
    """Upstream ``readConfig``: the ``podNodeSelectorPluginConfig`` map, or nothing."""
    if not isinstance(config, dict):
        return {}
    # upstream decodes into a Go struct, whose field name matches case-insensitively
    section = next((v for k, v in config.items()
                    if isinstance(k, str) and k.lower() == CONFIG_KEY.lower()), None)
    if not isinstance(section, dict):
        return {}
    return {str(k): "" if v is None else str(v) for k, v in section.items()}


class PodNodeSelector(Plugin, WantsStores):
    name = "PodNodeSelector"
    mutating = True
    validating = True
    stores = None

    def __init__(self):
        self.cluster_selectors: dict[str, str] = {}

    def configure(self, config: dict | None) -> None:
        self.cluster_selectors = read_config(config)

    def set_stores(self, stores) -> None:
        self.stores = stores

    def handles(self, operation: str) -> bool:
        return operation == "CREATE"

    def _ignored(self, attrs) -> bool:
        return (attrs.resource != "pods" or attrs.group != "" or attrs.subresource != ""
                or not isinstance(attrs.obj, dict))

    def _namespace_selector(self, namespace: str) -> dict:
        """``getNamespaceNodeSelectorMap``: the annotation's labels, else the cluster
        default.  A namespace that does not exist is upstream's InternalError."""
        store = self.stores.store("", "v1", "namespaces")
        found = store.storage.get(store.resource, "", namespace)
        if found is None:
            raise errors.InternalError(
                f"Internal error occurred: namespace {namespace} does not exist")
        annotations = (orjson.loads(found[0]).get("metadata") or {}).get("annotations") or {}
        if ANNOTATION in annotations:
            return selector_to_labels(annotations[ANNOTATION])
        return selector_to_labels(self.cluster_selectors.get(CLUSTER_DEFAULT, ""))

    @staticmethod
    def _pod_selector(pod: dict) -> dict:
        spec = pod.get("spec") if isinstance(pod.get("spec"), dict) else {}
        selector = spec.get("nodeSelector")
        return selector if isinstance(selector, dict) else {}

    @staticmethod
    def _refuse(attrs, message: str) -> errors.Forbidden:
        # upstream calls errors.NewForbidden with the pod's own name (empty for generateName)
        name = ((attrs.obj.get("metadata") or {}).get("name") or "")
        return forbidden("pods", "", name, message)

    def admit(self, attrs):
        """Mutating phase: refuse a conflict, add the namespace's selector labels."""
        if self._ignored(attrs):
            return
        namespace_labels = self._namespace_selector(attrs.namespace)
        pod_labels = self._pod_selector(attrs.obj)
        if conflicts(namespace_labels, pod_labels):
            raise self._refuse(attrs, "pod node label selector conflicts with its namespace "
                                      "node label selector")
        merged = {**namespace_labels, **pod_labels}
        if merged:
            attrs.obj.setdefault("spec", {})["nodeSelector"] = merged
        self.validate(attrs)

    def validate(self, attrs):
        """Validating phase: no conflict, and within the namespace's whitelist."""
        if self._ignored(attrs):
            return
        namespace_labels = self._namespace_selector(attrs.namespace)
        pod_labels = self._pod_selector(attrs.obj)
        if conflicts(namespace_labels, pod_labels):
            raise self._refuse(attrs, "pod node label selector conflicts with its namespace "
                                      "node label selector")
        whitelist = selector_to_labels(self.cluster_selectors.get(attrs.namespace, ""))
        if not is_subset(pod_labels, whitelist):
            raise self._refuse(attrs, "pod node label selector labels conflict with its "
                                      "namespace whitelist")
