"""The CustomResourceDefinition controllers that run inside the extensions server:

* naming: accepts a CRD's requested names into ``status.acceptedNames`` unless another CRD
  of the same group (or a built-in kind of that group) already uses them, and says so in
  the NamesAccepted condition (True NoConflicts, or False PluralConflict, SingularConflict,
  ShortNamesConflict, KindConflict, ListKindConflict); a CRD not yet Established gets
  Established False (NotAccepted, or Installing once its names are accepted);
* establishing: a CRD whose names are accepted becomes Established (InitialNamesAccepted);
* API approval: the KubernetesAPIApprovalPolicyConformant condition of CRDs in the
  protected groups (*.k8s.io, *.kubernetes.io);
* finalizer: a deleted CRD (held by ``customresourcecleanup.apiextensions.k8s.io``, which
  its first DELETE adds) has every stored object of its resource deleted, then loses the
  finalizer, which removes it.

Upstream: kubernetes/apiextensions-apiserver:pkg/controller/status/naming_controller.go,
pkg/controller/establish/establishing_controller.go, pkg/controller/apiapproval/
apiapproval_controller.go, pkg/controller/finalizer/crd_finalizer.go.  Upstream does not compare names with built-in kinds (the kube-apiserver
simply shadows such a resource); here a built-in's names count as taken, so such a CRD is
never served half-hidden.  The instances are deleted in storage directly (their own
finalizers are not waited for, no admission runs).  Each controller runs in a thread (``resources.controllers.base``) started by the
``start-apiextensions-controllers`` post-start hook.
"""
from __future__ import annotations

import logging

import orjson

from apiserver.registry.context import system_context
from apiserver.runtime import errors
from apiserver.storage.base import Compacted, KeyNotFound, RevisionMismatch
from resources.controllers.base import POLL_SECONDS, PollingController

from .customresourcedefinitions import (FINALIZER, GROUP, find_condition, is_condition_true,
                                        set_condition)
from .validation_conversion import approval_state, is_protected_group

log = logging.getLogger(__name__)

RESOURCE = "customresourcedefinitions"
NAME_KEYS = ("plural", "singular", "shortNames", "kind", "listKind", "categories")
MAX_DELETE_ROUNDS = 20


def _names(obj: dict, where: str) -> dict:
    holder = (obj.get("spec") if where == "spec" else obj.get("status")) or {}
    names = holder.get("names" if where == "spec" else "acceptedNames")
    return names if isinstance(names, dict) else {}


def _same_names(a: dict, b: dict) -> bool:
    """``Semantic.DeepEqual`` of two CustomResourceDefinitionNames (empty == missing)."""
    return all((a.get(k) or None) == (b.get(k) or None) for k in NAME_KEYS)


def _builtins(group: str, scheme) -> list:
    """The built-in kinds of ``group`` in the declarations registry (custom resources,
    which crds.serving indexes per server, are not built-ins)."""
    if scheme is None:
        return []
    return [s for s in scheme.all() if s.group == group
            and not type(s).__module__.startswith("crds.serving")]


def builtin_names(group: str, scheme) -> tuple[set, set]:
    """(resource names, kind names) the built-in kinds of ``group`` use."""
    resources, kinds = set(), set()
    for strategy in _builtins(group, scheme):
        resources.update((strategy.plural, strategy.singular_name(), *strategy.short_names))
        kinds.update((strategy.kind, strategy.list_kind()))
    return resources, kinds


def accepted_names_in_group(group: str, crds: list[dict], scheme=None) -> tuple[set, set]:
    """``getAcceptedNamesForGroup``: every accepted resource and kind name of the group's
    CRDs (the one being synced included), plus the built-ins' names."""
    resources, kinds = builtin_names(group, scheme)
    for crd in crds:
        if (crd.get("spec") or {}).get("group") != group:
            continue
        accepted = _names(crd, "status")
        resources.update((accepted.get("plural") or "", accepted.get("singular") or ""))
        resources.update(accepted.get("shortNames") or [])
        kinds.update((accepted.get("kind") or "", accepted.get("listKind") or ""))
    return resources, kinds


def _in_use(requested: str, accepted: str, used: set) -> str:
    """``equalToAcceptedOrFresh``: "" when the name may be taken, else the message."""
    requested, accepted = requested or "", accepted or ""
    if requested == accepted or requested not in used:
        return ""
    return f'"{requested}" is already in use'


def calculate_names(crd: dict, used_resources: set, used_kinds: set) -> tuple[dict, dict, dict]:
    """``calculateNamesAndConditions``: (accepted names, NamesAccepted, Established)."""
    requested, accepted = _names(crd, "spec"), _names(crd, "status")
    new = dict(accepted)
    cond = {"type": "NamesAccepted", "status": "Unknown", "reason": "", "message": ""}

    def check(key: str, reason: str, used: set) -> None:
        problem = _in_use(requested.get(key), accepted.get(key), used)
        if problem:
            cond.update(status="False", reason=reason, message=problem)
        elif requested.get(key) is not None:
            new[key] = requested[key]
        else:
            new.pop(key, None)

    check("plural", "PluralConflict", used_resources)
    check("singular", "SingularConflict", used_resources)
    if (requested.get("shortNames") or None) != (accepted.get("shortNames") or None):
        have = set(accepted.get("shortNames") or [])
        problems = [p for s in requested.get("shortNames") or [] if s not in have
                    for p in [_in_use(s, "", used_resources)] if p]
        if problems:
            message = problems[0] if len(problems) == 1 else "[" + ", ".join(problems) + "]"
            cond.update(status="False", reason="ShortNamesConflict", message=message)
        elif requested.get("shortNames"):
            new["shortNames"] = requested["shortNames"]
        else:
            new.pop("shortNames", None)
    check("kind", "KindConflict", used_kinds)
    check("listKind", "ListKindConflict", used_kinds)
    if requested.get("categories"):
        new["categories"] = requested["categories"]
    else:
        new.pop("categories", None)
    if cond["status"] == "Unknown":
        cond.update(status="True", reason="NoConflicts", message="no conflicts found")

    established = find_condition(crd, "Established")
    established = dict(established) if established else {
        "type": "Established", "status": "False", "reason": "NotAccepted",
        "message": "not all names are accepted"}
    if established.get("status") != "True" and cond["status"] == "True":
        established = {"type": "Established", "status": "False", "reason": "Installing",
                       "message": "the initial names have been accepted"}
    return new, cond, established


def _equivalent(a: dict | None, b: dict | None) -> bool:
    keys = ("type", "status", "reason", "message")
    return a is not None and b is not None and all(a.get(k) == b.get(k) for k in keys)


class _CRDController(PollingController):
    """What the three share: the CRD Store, a system context for /status writes and a
    change-log cursor so that an idle server does not re-read every CRD each second."""

    manager = "apiextensions-controller"

    def __init__(self, stores, scheme=None, *, poll_seconds: float = POLL_SECONDS):
        self.stores = stores
        self.scheme = scheme
        self.store = stores.store(GROUP, "v1", RESOURCE)
        self.cursor = None
        super().__init__(poll_seconds=poll_seconds)

    def status_context(self):
        return system_context(self.manager, self.stores).for_subresource("status")

    def crds(self) -> list[dict]:
        return sorted((orjson.loads(d) for d in self.store.list(None)["items"]),
                      key=lambda c: c["metadata"]["name"])

    def _unchanged(self) -> bool:
        if self.cursor is None:
            return False
        try:
            return not self.store.storage.changes_after(self.cursor, 1, resource=self.store.resource)
        except Compacted:
            return False

    def _update_status(self, name: str, transform) -> None:
        try:
            self.store.guaranteed_update(None, name, transform, self.status_context())
        except errors.NotFound:
            pass

    def sync(self) -> int:
        if self._unchanged():
            return 0
        cursor = self.store.storage.current_revision()
        done, finished = self.pass_over(self.crds())
        if finished:
            self.cursor = cursor       # its own writes move the log on: one idle pass settles
        return done

    def pass_over(self, crds: list[dict]) -> tuple[int, bool]:
        """Handle ``crds``; (objects written, nothing left to retry)."""
        raise NotImplementedError


class NamingController(_CRDController):
    name = "crd-naming-controller"
    manager = "crd-naming-controller"

    def pass_over(self, crds):
        written = 0
        for crd in crds:
            if _same_names(_names(crd, "spec"), _names(crd, "status")):
                continue
            group = (crd.get("spec") or {}).get("group")
            # each write changes what the next CRD of the group sees: read them again
            current = self.crds() if written else crds
            used = accepted_names_in_group(group, current, self.scheme)
            if self._sync_one(crd["metadata"]["name"], used):
                written += 1
        return written, True

    def _sync_one(self, name: str, used: tuple[set, set]) -> bool:
        wrote = []

        def transform(current):
            if _same_names(_names(current, "spec"), _names(current, "status")):
                return current
            names, cond, established = calculate_names(current, *used)
            if names == _names(current, "status") and _equivalent(
                    cond, find_condition(current, "NamesAccepted")):
                return current
            current.setdefault("status", {})["acceptedNames"] = names
            set_condition(current, "NamesAccepted", cond["status"], cond["reason"], cond["message"])
            set_condition(current, "Established", established["status"],
                          established.get("reason", ""), established.get("message", ""))
            wrote.append(True)
            return current

        self._update_status(name, transform)
        return bool(wrote)


class EstablishingController(_CRDController):
    name = "crd-establishing-controller"
    manager = "crd-establishing-controller"

    def pass_over(self, crds):
        written = 0
        for crd in crds:
            if not is_condition_true(crd, "NamesAccepted") or is_condition_true(crd, "Established"):
                continue

            def transform(current):
                if is_condition_true(current, "NamesAccepted") and \
                        not is_condition_true(current, "Established"):
                    set_condition(current, "Established", "True", "InitialNamesAccepted",
                                  "the initial names have been accepted")
                return current

            self._update_status(crd["metadata"]["name"], transform)
            written += 1
        return written, True


APPROVAL_REASONS = {"invalid": ("False", "InvalidAnnotation"),
                    "missing": ("False", "MissingAnnotation"),
                    "approved": ("True", "ApprovedAnnotation"),
                    "bypassed": ("False", "UnapprovedAnnotation")}


class APIApprovalController(_CRDController):
    """The KubernetesAPIApprovalPolicyConformant condition of CRDs in protected groups
    (*.k8s.io, *.kubernetes.io) from their ``api-approved.kubernetes.io`` annotation
    (upstream pkg/controller/apiapproval/apiapproval_controller.go)."""

    name = "crd-api-approval-controller"
    manager = "kubernetes-api-approval-conformant-condition-controller"
    TYPE = "KubernetesAPIApprovalPolicyConformant"

    def pass_over(self, crds):
        written = 0
        for crd in crds:
            if not is_protected_group((crd.get("spec") or {}).get("group") or ""):
                continue
            state, reason = approval_state((crd["metadata"].get("annotations") or {}))
            status, why = APPROVAL_REASONS[state]
            want = {"type": self.TYPE, "status": status, "reason": why, "message": reason}
            if _equivalent(want, find_condition(crd, self.TYPE)):
                continue

            def transform(current, want=want):
                set_condition(current, self.TYPE, want["status"], want["reason"], want["message"])
                return current

            self._update_status(crd["metadata"]["name"], transform)
            written += 1
        return written, True


class FinalizerController(_CRDController):
    name = "crd-finalizer"
    manager = "crd-finalizer"

    def pass_over(self, crds):
        done, finished = 0, True
        for crd in crds:
            meta = crd["metadata"]
            if not meta.get("deletionTimestamp") or FINALIZER not in (meta.get("finalizers") or []):
                continue
            try:
                self.finalize(crd)
                done += 1
            except (errors.APIError, OSError) as err:
                finished = False
                log.warning("customresourcedefinition %s: not finalized yet (%s)",
                            meta["name"], getattr(err, "reason", type(err).__name__))
        return done, finished

    def finalize(self, crd: dict) -> None:
        """``CRDFinalizer.sync``: Terminating in progress, the instances deleted, then the
        finalizer removed together with the final Terminating condition."""
        name = crd["metadata"]["name"]
        self._update_status(name, lambda c: _terminating(
            c, "True", "InstanceDeletionInProgress", "CustomResource deletion is in progress"))
        spec = crd.get("spec") or {}
        group, plural = spec.get("group") or "", (spec.get("names") or {}).get("plural") or ""
        if any(s.plural == plural for s in _builtins(group, self.scheme)):
            final = ("False", "OverlappingBuiltInResource",
                     "instances overlap with built-in resources in storage")
        elif is_condition_true(crd, "Established"):
            try:
                delete_instances(self.stores, f"{plural}.{group}")
            except Exception as exc:
                message = f"could not issue all deletes: {exc}"
                self._update_status(name, lambda c: _terminating(
                    c, "True", "InstanceDeletionFailed", message))
                raise errors.InternalError(message) from exc
            final = ("False", "InstanceDeletionCompleted", "removed all instances")
        else:
            final = ("False", "NeverEstablished", "resource was never established")

        def finish(current):
            _terminating(current, *final)
            meta = current["metadata"]
            meta["finalizers"] = [f for f in meta.get("finalizers") or [] if f != FINALIZER]
            return current

        self._update_status(name, finish)


def _terminating(obj: dict, status: str, reason: str, message: str) -> dict:
    set_condition(obj, "Terminating", status, reason, message)
    return obj


def delete_instances(stores, resource: str) -> int:
    """Delete every stored object of ``resource`` (``<plural>.<group>``) through the Storage
    API, in every namespace; returns how many went."""
    storage = stores.storage_for(resource)
    deleted = 0
    for _ in range(MAX_DELETE_ROUNDS):
        page = storage.list(resource, None)
        if not page.items:
            return deleted
        for doc in page.items:
            meta = orjson.loads(doc).get("metadata") or {}
            try:
                storage.delete(resource, meta.get("namespace") or "", meta.get("name") or "",
                               int(meta.get("resourceVersion") or 0))
                deleted += 1
            except (KeyNotFound, RevisionMismatch):
                continue                     # changed or gone meanwhile: the next round sees
    raise errors.InternalError(f"could not confirm zero CustomResources remaining in {resource}")


CONTROLLERS = (NamingController, EstablishingController, APIApprovalController,
               FinalizerController)


def start_controllers(hook) -> None:
    """Post-start hook ``start-apiextensions-controllers``: the naming, establishing, API
    approval and finalizer controllers run until the server stops."""
    from apiserver.runtime.scheme import scheme

    for cls in CONTROLLERS:
        controller = cls(hook.stores, scheme)
        if controller.store is None:       # this process does not serve CRDs
            return
        controller.start(hook.stop, storages=[controller.store.storage])
