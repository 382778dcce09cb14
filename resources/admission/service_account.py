"""ServiceAccount (upstream kubernetes/kubernetes:plugin/pkg/admission/serviceaccount/admission.go,
kube-apiserver 1.32).

On the CREATE of a Pod (not a mirror pod):

* an empty ``spec.serviceAccountName`` becomes ``default`` (or the deprecated
  ``spec.serviceAccount`` when only that is set, as the v1 conversion reads it);
* the named ServiceAccount must exist: ``error looking up service account <ns>/<name>:
  serviceaccount "<name>" not found``.  Upstream looks the ``default`` account up 10 times,
  100–200 ms apart, because its controller may not have made it yet; other names once;
* unless ``automountServiceAccountToken`` is false on the pod (which wins) or the account,
  the projected volume ``kube-api-access-<5 random>`` (a bound token of 3607 s at ``token``,
  ``ca.crt`` of the ConfigMap ``kube-root-ca.crt``, the namespace from the downward API,
  ``defaultMode`` 420) is added, and a read-only mount of it at
  ``/var/run/secrets/kubernetes.io/serviceaccount`` in every init container and container
  that has no mount at that path yet (an existing ``kube-api-access-*`` volume is reused);
  ephemeral containers get none;
* a pod without ``imagePullSecrets`` gets the account's.

Validation (both phases, as upstream's Admit ends by calling Validate): a mirror pod may
reference no service account, no secret and no projected service-account token; other pods
must name an existing account, and when the account is annotated
``kubernetes.io/enforce-mountable-secrets: "true"`` every secret volume, env and envFrom
reference and pull secret must be among the account's.  An UPDATE of
``pods/ephemeralcontainers`` checks the ephemeral containers' env references the same way.

The pod strategy fills ``serviceAccountName: default`` in ``prepare_for_create`` (between
the two phases) for every pod, mirror pods included, so the mirror-pod rule on the account
name is judged in the mutating phase only.
"""
from __future__ import annotations

import random
import time

import orjson

from apiserver.admission.base import Plugin
from apiserver.registry.initializer import WantsStores
from apiserver.registry.meta import generate_name
from apiserver.runtime import errors

from resources.admission.refusals import forbidden
from resources.authorization.node_graph import MIRROR_ANNOTATION, pod_secret_names

DEFAULT_NAME = "default"
ENFORCE_MOUNTABLE_SECRETS = "kubernetes.io/enforce-mountable-secrets"
VOLUME_PREFIX = "kube-api-access-"
TOKEN_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
# serviceaccount.WarnOnlyBoundTokenExpirationSeconds: one hour and seven seconds, the
# marker the token issuer recognises for extended-expiration tokens
TOKEN_EXPIRATION_SECONDS = 3607
PROJECTED_DEFAULT_MODE = 0o644
DEFAULT_ATTEMPTS = 10
_TRUE = ("1", "t", "T", "TRUE", "true", "True")      # Go strconv.ParseBool


def token_volume_source() -> dict:
    """Upstream ``TokenVolumeSource``: the projected source of the automounted volume (keys
    in the Go structs' order)."""
    return {"sources": [
        {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION_SECONDS, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
            "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
    ], "defaultMode": PROJECTED_DEFAULT_MODE}


def _forbidden(attrs, message: str) -> errors.Forbidden:
    """Upstream ``admission.NewForbidden`` with the request's or the object's name (no
    generateName fallback: these plugins name what they were given)."""
    name = attrs.name or ((attrs.obj or {}).get("metadata") or {}).get("name") or ""
    return forbidden(attrs.resource, attrs.group, name, message)


def _dicts(value) -> list:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _is_mirror(pod: dict) -> bool:
    return MIRROR_ANNOTATION in ((pod.get("metadata") or {}).get("annotations") or {})


def should_automount(sa: dict, pod: dict) -> bool:
    """The pod's ``automountServiceAccountToken`` wins, then the account's; default true."""
    for holder in (pod.get("spec") or {}, sa):
        if isinstance(holder.get("automountServiceAccountToken"), bool):
            return holder["automountServiceAccountToken"]
    return True


def mount_token(spec: dict) -> None:
    """Upstream ``mountServiceAccountToken`` on a pod spec."""
    volumes = spec.get("volumes") if isinstance(spec.get("volumes"), list) else []
    existing = next((v.get("name") for v in _dicts(volumes)
                     if str(v.get("name") or "").startswith(VOLUME_PREFIX)), None)
    name = existing or generate_name(VOLUME_PREFIX)
    needed = False
    for key in ("initContainers", "containers"):
        for container in _dicts(spec.get(key)):
            mounts = container.get("volumeMounts")
            mounts = mounts if isinstance(mounts, list) else []
            if any(m.get("mountPath") == TOKEN_MOUNT_PATH for m in _dicts(mounts)):
                continue
            container["volumeMounts"] = mounts + [
                {"name": name, "readOnly": True, "mountPath": TOKEN_MOUNT_PATH}]
            needed = True
    if needed and existing is None:
        spec["volumes"] = volumes + [{"name": name, "projected": token_volume_source()}]


class ServiceAccount(Plugin, WantsStores):
    name = "ServiceAccount"
    mutating = True
    validating = True
    stores = None
    attempts_for_default = DEFAULT_ATTEMPTS   # tests shorten the wait for a missing default

    def set_stores(self, stores) -> None:
        self.stores = stores

    def handles(self, operation: str) -> bool:
        return operation in ("CREATE", "UPDATE")

    @staticmethod
    def _ignored(attrs) -> bool:
        return (attrs.resource != "pods" or attrs.group != ""
                or attrs.subresource not in ("", "ephemeralcontainers")
                or not isinstance(attrs.obj, dict))

    # ---- phases ---------------------------------------------------------------------------
    def admit(self, attrs):
        if self._ignored(attrs) or attrs.operation != "CREATE" or attrs.subresource:
            return
        pod = attrs.obj
        if _is_mirror(pod):
            self._check(attrs, mutating=True)
            return
        spec = pod.setdefault("spec", {})
        if not spec.get("serviceAccountName"):
            spec["serviceAccountName"] = spec.get("serviceAccount") or DEFAULT_NAME
        sa = self._account(attrs, spec["serviceAccountName"])
        if should_automount(sa, pod):
            mount_token(spec)
        if not spec.get("imagePullSecrets") and _dicts(sa.get("imagePullSecrets")):
            spec["imagePullSecrets"] = [{"name": r.get("name") or ""}
                                        for r in _dicts(sa["imagePullSecrets"])]
        self._check(attrs, mutating=True)

    def validate(self, attrs):
        self._check(attrs, mutating=False)

    def _check(self, attrs, mutating: bool) -> None:
        if self._ignored(attrs):
            return
        pod, spec = attrs.obj, attrs.obj.get("spec") or {}
        if attrs.operation == "UPDATE" and attrs.subresource == "ephemeralcontainers":
            self._check_ephemeral(attrs, pod, spec)
            return
        if attrs.operation != "CREATE" or attrs.subresource:
            return
        if _is_mirror(pod):
            if mutating and (spec.get("serviceAccountName") or spec.get("serviceAccount")):
                raise _forbidden(attrs, "a mirror pod may not reference service accounts")
            if pod_secret_names(pod):
                raise _forbidden(attrs, "a mirror pod may not reference secrets")
            for volume in _dicts(spec.get("volumes")):
                sources = _dicts((volume.get("projected") or {}).get("sources"))
                if any(isinstance(s.get("serviceAccountToken"), dict) for s in sources):
                    raise _forbidden(attrs, "a mirror pod may not use ServiceAccountToken "
                                            "volume projections")
            return
        if not spec.get("serviceAccountName"):
            raise _forbidden(attrs, f"no service account specified for pod "
                                    f"{attrs.namespace}/{attrs.name}")
        sa = self._account(attrs, spec["serviceAccountName"])
        if _enforces_mountable_secrets(sa):
            problem = _unmountable(sa, spec)
            if problem:
                raise _forbidden(attrs, problem)

    def _check_ephemeral(self, attrs, pod, spec) -> None:
        if not spec.get("serviceAccountName"):
            raise _forbidden(attrs, f"no service account specified for pod "
                                    f"{attrs.namespace}/{attrs.name}")
        sa = self._account(attrs, spec["serviceAccountName"])
        if not _enforces_mountable_secrets(sa):
            return
        mountable = {r.get("name") for r in _dicts(sa.get("secrets"))}
        for c in _dicts(spec.get("ephemeralContainers")):
            problem = _env_problem(c, "ephemeral container", mountable, sa)
            if problem:
                raise _forbidden(attrs, problem)

    # ---- lookups --------------------------------------------------------------------------
    def _account(self, attrs, name: str) -> dict:
        """The ServiceAccount, or upstream's Forbidden; the ``default`` account is looked
        up repeatedly, as its controller may be about to create it."""
        store = self.stores.store("", "v1", "serviceaccounts")
        attempts = self.attempts_for_default if name == DEFAULT_NAME else 1
        for attempt in range(max(attempts, 1)):
            if attempt:
                time.sleep(random.uniform(0.1, 0.2))
            try:
                return orjson.loads(store.get(attrs.namespace, name))
            except errors.NotFound:
                continue
        raise _forbidden(attrs, f"error looking up service account {attrs.namespace}/{name}: "
                                f'serviceaccount "{name}" not found')


def _enforces_mountable_secrets(sa: dict) -> bool:
    value = ((sa.get("metadata") or {}).get("annotations") or {}).get(ENFORCE_MOUNTABLE_SECRETS)
    return value in _TRUE


def _env_problem(container: dict, what: str, mountable: set, sa: dict) -> str:
    account = (sa.get("metadata") or {}).get("name", "")
    cname = container.get("name", "")
    for env in _dicts(container.get("env")):
        ref = (env.get("valueFrom") or {}).get("secretKeyRef")
        if isinstance(ref, dict) and ref.get("name", "") not in mountable:
            return (f'{what} {cname} with envVar {env.get("name", "")} referencing '
                    f'secret.secretName="{ref.get("name", "")}" is not allowed because service '
                    f"account {account} does not reference that secret")
    for env_from in _dicts(container.get("envFrom")):
        ref = env_from.get("secretRef")
        if isinstance(ref, dict) and ref.get("name", "") not in mountable:
            return (f'{what} {cname} with envFrom referencing secret.secretName='
                    f'"{ref.get("name", "")}" is not allowed because service account {account} '
                    f"does not reference that secret")
    return ""


def _unmountable(sa: dict, spec: dict) -> str:
    """Upstream ``limitSecretReferences``: the first reference the account does not list."""
    account = (sa.get("metadata") or {}).get("name", "")
    mountable = {r.get("name") for r in _dicts(sa.get("secrets"))}
    for volume in _dicts(spec.get("volumes")):
        secret = volume.get("secret")
        if isinstance(secret, dict) and secret.get("secretName", "") not in mountable:
            return (f'volume with secret.secretName="{secret.get("secretName", "")}" is not '
                    f"allowed because service account {account} does not reference that secret")
    for key, what in (("initContainers", "init container"), ("containers", "container")):
        for container in _dicts(spec.get(key)):
            problem = _env_problem(container, what, mountable, sa)
            if problem:
                return problem
    pull = {r.get("name") for r in _dicts(sa.get("imagePullSecrets"))}
    for i, ref in enumerate(_dicts(spec.get("imagePullSecrets"))):
        if ref.get("name", "") not in pull:
            return (f'imagePullSecrets[{i}].name="{ref.get("name", "")}" is not allowed because '
                    f"service account {account} does not reference that imagePullSecret")
    return ""
