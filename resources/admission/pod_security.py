"""PodSecurity (upstream kubernetes/kubernetes:plugin/pkg/admission/security/podsecurity/
admission.go over staging/src/k8s.io/pod-security-admission/admission/admission.go,
release-1.32).

Validating, on CREATE and UPDATE.  A namespace's labels ``pod-security.kubernetes.io/
enforce|audit|warn`` (levels ``privileged``, ``baseline``, ``restricted``) and their
``-version`` labels (``v1.x`` or ``latest``), over the configured defaults, give three
policies (:mod:`.pod_security_policy`); the checks are :mod:`.pod_security_checks`, evaluated by :mod:`.pod_security_registry`.

* Pods (and ``pods/ephemeralcontainers``, ``pods/resize`` …; not ``status``, ``binding``,
  ``exec``, ``attach``, ``log``, ``portforward``, ``proxy``, ``eviction``): a violation of
  the enforce policy refuses the write, 403 ``pods "p" is forbidden: violates PodSecurity
  "restricted:latest": privileged (container "x" must not set …), …``; of the warn policy
  adds the Warning ``would violate PodSecurity "…": …``; of the audit policy the audit
  annotation ``pod-security.kubernetes.io/audit-violations``.  An update that changes no
  container's image and adds no ephemeral container (labels, annotations, tolerations,
  activeDeadlineSeconds …) is not evaluated.
* Pod controllers (ReplicationController, PodTemplate, ReplicaSet, Deployment, StatefulSet,
  DaemonSet, Job, CronJob): their pod template gets the warn and audit evaluations, never
  enforce.
* Namespaces: labels that do not parse refuse the create (or an update that changes the
  errors), 422 ``Namespace "x" is invalid: metadata.labels[…]: Invalid value: …``.  An
  update that tightens the enforce policy evaluates the namespace's existing pods (at most
  3000, for at most a second) and warns about the violations, grouped by reason.

Exemptions from the configuration (``usernames``, ``namespaces``, ``runtimeClasses``) skip
the evaluation and say why in the ``pod-security.kubernetes.io/exempt`` audit annotation.
Audit annotations are written to ``attrs.annotations`` (this server keeps no audit log;
upstream's metrics are not kept either).

Cost: a pod write reads its namespace's stored text once; when that text carries no
``pod-security.kubernetes.io/`` key and the defaults are privileged, nothing is decoded or
evaluated.
"""
from __future__ import annotations

import time

import orjson

from apiserver.admission.base import Plugin
from apiserver.registry.initializer import WantsStores
from apiserver.runtime import errors
from resources.admission.pod_security_checks import PRIVILEGED
from resources.admission.pod_security_registry import evaluate
from resources.admission.pod_security_policy import (PREFIX, AUDIT, AUDIT_VERSION, ENFORCE,
                                                     ENFORCE_VERSION, WARN, WARN_VERSION,
                                                     LevelVersion, Policy, aggregate,
                                                     compare_levels, load_configuration,
                                                     policy_to_evaluate)
from resources.admission.refusals import forbidden

# pod subresources that cannot change what the checks look at (upstream ignoredPodSubresources)
IGNORED_POD_SUBRESOURCES = frozenset(("exec", "attach", "binding", "eviction", "log",
                                      "portforward", "proxy", "status"))
# (group, resource) → how to reach the pod template (upstream defaultPodSpecResources)
POD_CONTROLLERS = {
    ("", "replicationcontrollers"): ("spec", "template"),
    ("", "podtemplates"): ("template",),
    ("apps", "replicasets"): ("spec", "template"),
    ("apps", "deployments"): ("spec", "template"),
    ("apps", "statefulsets"): ("spec", "template"),
    ("apps", "daemonsets"): ("spec", "template"),
    ("batch", "jobs"): ("spec", "template"),
    ("batch", "cronjobs"): ("spec", "jobTemplate", "spec", "template"),
}
MAX_PODS_TO_CHECK = 3000
POD_CHECK_SECONDS = 1.0


def _meta(obj) -> dict:
    m = obj.get("metadata") if isinstance(obj, dict) else None
    return m if isinstance(m, dict) else {}


def _spec(obj) -> dict:
    s = obj.get("spec") if isinstance(obj, dict) else None
    return s if isinstance(s, dict) else {}


class PodSecurity(Plugin, WantsStores):
    name = "PodSecurity"
    validating = True
    stores = None

    def __init__(self):
        self.config = load_configuration(None)
        # the clock bounding the namespace update's evaluation of existing pods
        self.clock = time.monotonic

    def configure(self, config: dict | None) -> None:
        """The ``PodSecurityConfiguration`` (pod-security.admission.config.k8s.io/v1,
        v1beta1 or v1alpha1) of the AdmissionConfiguration; ValueError refuses the start."""
        self.config = load_configuration(config)

    def set_stores(self, stores) -> None:
        self.stores = stores

    def handles(self, operation: str) -> bool:
        return operation in ("CREATE", "UPDATE")

    # ---- routing (upstream Validate) ------------------------------------------------------
    def validate(self, attrs) -> None:
        """Refuses (403 or 422) or adds warnings and audit annotations; see the module."""
        key = (attrs.group, attrs.resource)
        if key == ("", "namespaces"):
            self._namespace(attrs)
        elif key == ("", "pods"):
            self._pod(attrs)
        elif key in POD_CONTROLLERS:
            self._controller(attrs)

    @staticmethod
    def _annotate(attrs, values: dict) -> None:
        for k, v in values.items():
            attrs.annotations[PREFIX + k] = v

    def _exempt_namespace(self, namespace: str) -> bool:
        return bool(namespace) and namespace in self.config.namespaces

    def _exempt_user(self, attrs) -> bool:
        name = getattr(attrs.user, "name", "") if attrs.user is not None else ""
        return bool(name) and name in self.config.usernames

    def _exempt_runtime_class(self, spec: dict) -> bool:
        rc = spec.get("runtimeClassName")
        return isinstance(rc, str) and bool(rc) and rc in self.config.runtime_classes

    def _exempt(self, attrs) -> bool:
        if self._exempt_namespace(attrs.namespace):
            self._annotate(attrs, {"exempt": "namespace"})
            return True
        if self._exempt_user(attrs):
            self._annotate(attrs, {"exempt": "user"})
            return True
        return False

    def _namespace_text(self, name: str) -> str | None:
        store = self.stores.store("", "v1", "namespaces")
        found = store.storage.get(store.resource, "", name)
        return None if found is None else found[0]

    def _namespace_policy(self, text: str) -> tuple[Policy, list]:
        if PREFIX not in text:      # no label of ours: the defaults, without decoding
            return self.config.defaults, []
        return policy_to_evaluate(_meta(orjson.loads(text)).get("labels"), self.config.defaults)

    # ---- pods (upstream ValidatePod) ------------------------------------------------------
    def _pod(self, attrs) -> None:
        if attrs.subresource in IGNORED_POD_SUBRESOURCES or self._exempt(attrs):
            return
        text = self._namespace_text(attrs.namespace)
        if text is None:
            raise errors.InternalError(
                f'Internal error occurred: failed to lookup namespace "{attrs.namespace}"')
        policy, errs = self._namespace_policy(text)
        if not errs and policy.fully_privileged():
            self._annotate(attrs, {"enforce-policy": str(LevelVersion(PRIVILEGED, None))})
            return
        if not isinstance(attrs.obj, dict):
            return
        if attrs.operation == "UPDATE" and not significant_pod_update(attrs.obj, attrs.old or {}):
            return
        self._evaluate(attrs, policy, errs, _meta(attrs.obj), _spec(attrs.obj), enforce=True)

    # ---- pod controllers (upstream ValidatePodController) ---------------------------------
    def _controller(self, attrs) -> None:
        if attrs.subresource or self._exempt(attrs):
            return
        text = self._namespace_text(attrs.namespace)
        if text is None:
            self._annotate(attrs, {"error": f'failed to lookup namespace "{attrs.namespace}"'})
            return
        policy, errs = self._namespace_policy(text)
        if not errs and policy.warn.level == PRIVILEGED and policy.audit.level == PRIVILEGED:
            return
        template = attrs.obj
        for step in POD_CONTROLLERS[(attrs.group, attrs.resource)]:
            template = template.get(step) if isinstance(template, dict) else None
        if not isinstance(template, dict):
            return      # no template (a ReplicationController may omit it): nothing to check
        self._evaluate(attrs, policy, errs, _meta(template), _spec(template), enforce=False)

    # ---- evaluation (upstream EvaluatePod) ------------------------------------------------
    def _evaluate(self, attrs, policy: Policy, errs: list, meta: dict, spec: dict,
                  enforce: bool) -> None:
        if self._exempt_runtime_class(spec):
            self._annotate(attrs, {"exempt": "runtimeClass"})
            return
        notes = {}
        if errs:
            notes["error"] = "Failed to parse policy: " + aggregate([e.error_text() for e in errs])
        results = {}

        def result(lv: LevelVersion):
            if lv not in results:
                results[lv] = evaluate(lv.level, lv.version, meta, spec)
            return results[lv]

        refusal = None
        if enforce:
            notes["enforce-policy"] = str(policy.enforce)
            found = result(policy.enforce)
            if not found.allowed:
                refusal = forbidden(attrs.resource, attrs.group, attrs.name,
                                    f'violates PodSecurity "{policy.enforce}": {found.detail()}')
        found = result(policy.audit)
        if not found.allowed:
            notes["audit-violations"] = (f'would violate PodSecurity "{policy.audit}": '
                                         f"{found.detail()}")
        if refusal is None:
            found = result(policy.warn)
            if not found.allowed:
                attrs.warn(f'would violate PodSecurity "{policy.warn}": {found.detail()}')
        self._annotate(attrs, notes)
        if refusal is not None:
            raise refusal

    # ---- namespaces (upstream ValidateNamespace) ------------------------------------------
    def _namespace(self, attrs) -> None:
        if attrs.subresource or not isinstance(attrs.obj, dict):
            return
        # a namespace is its own namespace (upstream's create handler sets it so)
        name = attrs.name
        labels = _meta(attrs.obj).get("labels")
        policy, errs = policy_to_evaluate(labels, self.config.defaults)
        if attrs.operation == "CREATE":
            if errs:
                raise errors.Invalid.for_object("Namespace", "", name, errs)
            if self._exempt_namespace(name):
                self._warn_exempt(attrs, name, policy, labels)
            return
        old_policy, old_errs = policy_to_evaluate(_meta(attrs.old).get("labels"),
                                                  self.config.defaults)
        if errs and (not old_errs or errs != old_errs):
            raise errors.Invalid.for_object("Namespace", "", name, errs)
        new, old = policy.enforce, old_policy.enforce
        if new == old or new.level == PRIVILEGED:
            return
        if new.version == old.version and compare_levels(new.level, old.level) < 1:
            return
        if self._exempt_namespace(name):
            self._warn_exempt(attrs, name, policy, labels)
            return
        for text in self.evaluate_pods_in_namespace(name, new):
            attrs.warn(text)

    def _warn_exempt(self, attrs, name: str, policy: Policy, labels) -> None:
        """Upstream ``exemptNamespaceWarning``: the labelled modes that will be ignored."""
        if policy.fully_privileged() or policy.equivalent(self.config.defaults):
            return
        labels = labels if isinstance(labels, dict) else {}
        parts = []
        for mode, lv, keys in (("enforce", policy.enforce, (ENFORCE, ENFORCE_VERSION)),
                               ("audit", policy.audit, (AUDIT, AUDIT_VERSION)),
                               ("warn", policy.warn, (WARN, WARN_VERSION))):
            if lv.level != PRIVILEGED and any(k in labels for k in keys):
                parts.append(f"{mode}={lv}")
        attrs.warn(f'namespace "{name}" is exempt from Pod Security, and the policy '
                   f"({', '.join(parts)}) will be ignored")

    def evaluate_pods_in_namespace(self, namespace: str, enforce: LevelVersion) -> list[str]:
        """Upstream ``EvaluatePodsInNamespace``: the warnings for the existing pods that the
        new enforce policy would refuse.  One pod per controller is checked before the
        others; each distinct set of reasons is named once, with its (alphabetically) first
        pod and how many others share it."""
        deadline = self.clock() + POD_CHECK_SECONDS
        try:
            pods = [orjson.loads(doc) for doc in
                    self.stores.store("", "v1", "pods").list(namespace)["items"]]
        except errors.APIError:
            return ["failed to list pods while checking new PodSecurity enforce level"]
        pods = self._prioritize(pods)
        total = len(pods)
        pods = pods[:MAX_PODS_TO_CHECK]
        checked = len(pods)
        order, counts = [], {}
        for i, pod in enumerate(pods):
            found = evaluate(enforce.level, enforce.version, _meta(pod), _spec(pod))
            if not found.allowed:
                reason = found.reason()
                pod_name = _meta(pod).get("name") or ""
                if reason not in counts:
                    order.append(reason)
                    counts[reason] = [pod_name, 0]
                elif pod_name < counts[reason][0]:
                    counts[reason][0] = pod_name
                counts[reason][1] += 1
            if self.clock() > deadline:
                checked = i + 1
                break
        warnings = []
        if checked < total:
            warnings.append(f"new PodSecurity enforce level only checked against the first "
                            f"{checked} of {total} existing pods")
        if order:
            warnings.append(f'existing pods in namespace "{namespace}" violate the new '
                            f'PodSecurity enforce level "{enforce}"')
        decorated = []
        for reason in order:
            pod_name, count = counts[reason]
            if count == 1:
                decorated.append(f"{pod_name}: {reason}")
            elif count == 2:
                decorated.append(f"{pod_name} (and 1 other pod): {reason}")
            else:
                decorated.append(f"{pod_name} (and {count - 1} other pods): {reason}")
        return warnings + sorted(decorated)

    def _prioritize(self, pods: list) -> list:
        """Upstream ``prioritizePods``: runtime-class-exempt pods are left out; the first pod
        of each controller comes first, its siblings after all of those."""
        first, duplicates, seen = [], [], set()
        for pod in pods:
            if self._exempt_runtime_class(_spec(pod)):
                continue
            owner = next((r for r in _meta(pod).get("ownerReferences") or ()
                          if isinstance(r, dict) and r.get("controller") is True), None)
            if owner is None:
                first.append(pod)
            elif owner.get("uid") in seen:
                duplicates.append(pod)
            else:
                seen.add(owner.get("uid"))
                first.append(pod)
        return first + duplicates


def _containers(spec: dict, key: str) -> list:
    value = spec.get(key)
    return [c if isinstance(c, dict) else {} for c in value] if isinstance(value, list) else []


def significant_pod_update(pod: dict, old: dict) -> bool:
    """Upstream ``isSignificantPodUpdate``: only a changed container image (or a different
    number of containers) or an added or changed ephemeral container is worth evaluating;
    the rest of a pod's spec is immutable or does not matter to the checks."""
    spec, old_spec = _spec(pod), _spec(old)
    for key in ("containers", "initContainers"):
        new_list, old_list = _containers(spec, key), _containers(old_spec, key)
        if len(new_list) != len(old_list):
            return True
        if any(n.get("image") != o.get("image") for n, o in zip(new_list, old_list)):
            return True
    old_ephemeral = {c.get("name"): c for c in _containers(old_spec, "ephemeralContainers")}
    for c in _containers(spec, "ephemeralContainers"):
        before = old_ephemeral.get(c.get("name"))
        if before is None or before.get("image") != c.get("image"):
            return True
    return False
