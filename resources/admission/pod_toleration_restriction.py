"""PodTolerationRestriction (upstream kubernetes/kubernetes:plugin/pkg/admission/podtolerationrestriction/,
with the toleration helpers of pkg/util/tolerations/tolerations.go).

On create and update of pods (not subresources):

* mutating, create only: the namespace's default tolerations (the JSON list in annotation
  ``scheduler.alpha.kubernetes.io/defaultTolerations``; when the annotation is absent, the
  configuration's ``default``) are merged into the pod's; every pod that is not BestEffort
  also gets ``node.kubernetes.io/memory-pressure:NoSchedule`` (operator Exists).  Merging
  keeps the pod's own tolerations first and drops any toleration another one already
  covers (upstream ``MergeTolerations`` / ``isSuperset``);
* validating, create and update: when the pod has tolerations, each must be covered by some
  entry of the namespace's whitelist (annotation
  ``scheduler.alpha.kubernetes.io/tolerationsWhitelist``; absent: the configuration's
  ``whitelist``; an empty list allows anything), else the plain error (500, as upstream's
  ``fmt.Errorf``) ``pod tolerations (possibly merged with namespace default tolerations)
  conflict with its namespace whitelist`` (``cluster whitelist`` when the configuration's
  list decided).

An annotation set to "" means an empty list (so the cluster's list is not used); one that
is not a JSON list of tolerations is a plain error naming the decoding problem.  The
configuration is ``podtolerationrestriction.admission.k8s.io/v1alpha1`` ``Configuration``
with ``default`` and ``whitelist`` lists, validated as pod tolerations.
"""
from __future__ import annotations

import orjson

from apiserver.admission.base import Plugin
from apiserver.registry.initializer import WantsStores
from apiserver.runtime import errors
from resources.admission.refusals import PlainError
from resources.admission.tolerations import is_superset, merge_tolerations
from resources.core.pod_defaults import qos_class
from resources.core.pod_validation import validate_tolerations

DEFAULTS = "scheduler.alpha.kubernetes.io/defaultTolerations"
WHITELIST = "scheduler.alpha.kubernetes.io/tolerationsWhitelist"
GROUP = "podtolerationrestriction.admission.k8s.io"
VERSIONS = ("v1alpha1",)
MEMORY_PRESSURE = {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists",
                   "effect": "NoSchedule"}


def verify_against_whitelist(tolerations: list, whitelist: list) -> bool:
    if not whitelist or not tolerations:
        return True
    return all(any(is_superset(w, t) for w in whitelist) for t in tolerations)


def _tolerations_of(value, what: str) -> list:
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise PlainError(f"json: cannot unmarshal {what} into Go value of type []v1.Toleration")
    return value


def extract(annotations: dict, key: str) -> list | None:
    """Upstream ``extractNSTolerations``: None when the annotation is absent, [] when it is
    empty, else its JSON list."""
    if key not in annotations:
        return None
    text = annotations[key]
    if not text:
        return []
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise PlainError(f"invalid character in annotation {key}: {exc}") from None
    return _tolerations_of(value, "annotation " + key)


class PodTolerationRestriction(Plugin, WantsStores):
    name = "PodTolerationRestriction"
    mutating = True
    validating = True
    stores = None

    def __init__(self):
        self.default: list = []
        self.whitelist: list = []

    def configure(self, config: dict | None) -> None:
        """Upstream ``loadConfiguration`` and ``ValidateConfiguration``."""
        if not config:
            return
        api_version = str(config.get("apiVersion") or "")
        group, _, version = api_version.rpartition("/")
        if (group, version) not in {(GROUP, v) for v in VERSIONS} \
                or config.get("kind") != "Configuration":
            raise ValueError(f'no kind "{config.get("kind") or ""}" is registered for version '
                             f'"{api_version}" in scheme of PodTolerationRestriction')
        default = config.get("default") or []
        whitelist = config.get("whitelist") or []
        for name, value in (("default", default), ("whitelist", whitelist)):
            if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
                raise ValueError(f"invalid config: {name} must be a list of tolerations")
        errs = (validate_tolerations(default, "podtolerationrestriction.default")
                + validate_tolerations(whitelist, "podtolerationrestriction.whitelist"))
        if errs:
            raise ValueError("invalid config: [" + " ".join(e.error_text() for e in errs) + "]")
        self.default, self.whitelist = default, whitelist

    def set_stores(self, stores) -> None:
        self.stores = stores

    def handles(self, operation: str) -> bool:
        return operation in ("CREATE", "UPDATE")

    @staticmethod
    def _ignored(attrs) -> bool:
        return (attrs.resource != "pods" or attrs.group != "" or attrs.subresource != ""
                or not isinstance(attrs.obj, dict))

    def _annotations(self, namespace: str) -> dict:
        store = self.stores.store("", "v1", "namespaces")
        found = store.storage.get(store.resource, "", namespace)
        if found is None:
            raise errors.NotFound.for_object("namespaces", "", namespace)
        meta = orjson.loads(found[0]).get("metadata") or {}
        return meta.get("annotations") or {}

    def admit(self, attrs):
        """Mutating phase: add the defaults (on create) and the memory-pressure toleration,
        then check the whitelist as :meth:`validate`."""
        if self._ignored(attrs):
            return
        spec = attrs.obj.setdefault("spec", {})
        extra: list = []
        if attrs.operation == "CREATE":
            defaults = extract(self._annotations(attrs.namespace), DEFAULTS)
            extra = list(self.default if defaults is None else defaults)
        if qos_class(attrs.obj) != "BestEffort":
            extra.append(dict(MEMORY_PRESSURE))
        if extra:
            own = spec.get("tolerations") if isinstance(spec.get("tolerations"), list) else []
            spec["tolerations"] = merge_tolerations(own, extra)
        self.validate(attrs)

    def validate(self, attrs):
        """Validating phase: the pod's tolerations within the whitelist."""
        if self._ignored(attrs):
            return
        spec = attrs.obj.get("spec") if isinstance(attrs.obj.get("spec"), dict) else {}
        tolerations = spec.get("tolerations")
        if not isinstance(tolerations, list) or not tolerations:
            return
        whitelist, scope = extract(self._annotations(attrs.namespace), WHITELIST), "namespace"
        if whitelist is None:
            whitelist, scope = self.whitelist, "cluster"
        if not verify_against_whitelist([t for t in tolerations if isinstance(t, dict)],
                                        whitelist):
            raise PlainError("pod tolerations (possibly merged with namespace default "
                             f"tolerations) conflict with its {scope} whitelist")
