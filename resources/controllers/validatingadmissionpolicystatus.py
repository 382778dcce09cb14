"""The ValidatingAdmissionPolicy status controller: type-checks each policy generation and
writes ``status.observedGeneration`` and ``status.typeChecking``.

Upstream: kubernetes/kubernetes:pkg/controller/validatingadmissionpolicystatus/controller.go
(a policy whose ``metadata.generation`` is above ``status.observedGeneration`` is checked and
its status applied: the generation, and ``typeChecking`` with the warnings, an empty object
when there are none) and k8s.io/apiserver
pkg/admission/plugin/policy/validating/typechecking.go (``TypeChecker``: which kinds a
policy is checked against, ``typesToCheck``; the params kind; variables; the warning text).
The expressions themselves are checked by :mod:`apiserver.cel.typecheck`.

Upstream runs it in kube-controller-manager.  Here it runs in the server process, as the
other controllers of this package do: it needs the CEL parser and the server's OpenAPI
models, which the out-of-process controller manager (``workers/``, API clients only) may
not import.  Schemas come from the kinds this server serves: a built-in kind's definition
(upstream's ``DefinitionsSchemaResolver``) or a custom resource's published schema (its
``ClientDiscoveryResolver``); a kind with neither is not checked.

It finds its work in storage when it starts, after every local commit to policies and once
a second; a pass does nothing unless policies changed since the last one.  A new generation
whose rules name a resource this server does not serve yet is looked at again for up to ten
seconds before its status is written (a custom resource applied together with its policy is
served moments later; upstream refreshes its RESTMapper once instead).
"""
from __future__ import annotations

import logging
import time

import orjson

from apiserver.cel import decltypes, typecheck
from apiserver.openapi import schemas
from apiserver.registry.context import system_context
from apiserver.runtime import errors
from apiserver.storage.base import Compacted
from resources.controllers.base import POLL_SECONDS, PollingController

log = logging.getLogger(__name__)

MANAGER = "validatingadmissionpolicy-status-controller"
GROUP, VERSION, RESOURCE = "admissionregistration.k8s.io", "v1", "validatingadmissionpolicies"
MAX_TYPES = typecheck.MAX_TYPES_TO_CHECK
UNRESOLVED_GRACE = 10.0        # seconds a generation waits for a resource not served yet


class SchemaResolver:
    """Kinds and schemas from a server's installed strategies (``StoreRegistry.index``)."""

    def __init__(self, index):
        self.index = index

    @staticmethod
    def lookup(name: str) -> dict | None:
        found = schemas.converted(name)
        return found[0] if found else None

    def kinds_for(self, group: str, version: str, resource: str) -> list[tuple]:
        """upstream ``DefaultRESTMapper.KindsFor``: by plural or singular name; an empty
        group (the core group's spelling in rules) is not part of the match."""
        resource = resource.lower()
        return [(s.group, s.version, s.kind) for s in self.index.all()
                if s.version == version and (not group or s.group == group)
                and resource in (s.plural, s.kind.lower())]

    def schema(self, gvk: tuple) -> tuple[dict, frozenset] | None:
        """The kind's schema and the names already on its reference path, or None."""
        strategy = self.index.strategy_for_kind(*gvk)
        if strategy is None:
            return None
        name = getattr(strategy, "schema_name", None)
        if name and schemas.is_builtin(name):
            return self.lookup(name), frozenset({name})
        own = getattr(strategy, "openapi_schema", None)
        return (own, frozenset()) if isinstance(own, dict) else None

    def decl_type(self, gvk: tuple):
        """``(found, type)``: upstream's ``declType``; a found schema without a type is
        dynamic."""
        found = self.schema(gvk)
        if found is None:
            return False, None
        node, path = found
        t = decltypes.decl_type(node, self.lookup, root=True, path=path)
        return True, (decltypes.DYN if t is None else t)


def _names(rule: dict, key: str, *, resources: bool = False) -> list[str]:
    values = [str(v) for v in rule.get(key) or () if isinstance(v, str)]
    if resources:            # wildcards and subresources are skipped one by one
        return [v for v in values if "*" not in v and "/" not in v]
    return [] if any("*" in v for v in values) else values


def types_to_check(spec: dict, resolver: SchemaResolver,
                   unresolved: list | None = None) -> list[tuple]:
    """upstream ``typesToCheck``: the kinds the resource rules name exactly, sorted by
    group, version and kind; a rule stops adding at ten.  Exact resources this server does
    not serve (yet) are appended to ``unresolved``."""
    gvks: set = set()
    constraints = spec.get("matchConstraints") if isinstance(spec.get("matchConstraints"),
                                                            dict) else {}
    for rule in constraints.get("resourceRules") or ():
        if not isinstance(rule, dict):
            continue
        groups, versions = _names(rule, "apiGroups"), _names(rule, "apiVersions")
        resources = _names(rule, "resources", resources=True)
        count = 0
        for group in sorted(groups):
            for version in sorted(versions):
                for resource in sorted(resources):
                    kinds = resolver.kinds_for(group, version, resource)
                    if not kinds and unresolved is not None:
                        unresolved.append((group, version, resource))
                    for gvk in kinds:
                        gvks.add(gvk)
                        count += 1
                        if count == MAX_TYPES:
                            return sorted(gvks)
    return sorted(gvks)


def _gvk_text(gvk: tuple) -> str:
    group, version, kind = gvk
    return f"{group}/{version}, Kind={kind}"


class TypeChecker:
    def __init__(self, resolver: SchemaResolver):
        self.resolver = resolver

    def _params(self, spec: dict):
        """``(declared, type)`` for ``params`` from ``spec.paramKind``."""
        param = spec.get("paramKind")
        if not isinstance(param, dict):
            return False, None
        api_version, kind = str(param.get("apiVersion") or ""), str(param.get("kind") or "")
        if api_version.count("/") > 1:
            return False, None
        group, _, version = api_version.rpartition("/")
        if not (version or group or kind):
            return False, None
        found, t = self.resolver.decl_type((group, version, kind))
        return True, (t if found else decltypes.DYN)

    def _environment(self, spec: dict, object_type, params) -> dict:
        env = {"object": object_type, "oldObject": object_type, "request": decltypes.REQUEST,
               "namespaceObject": decltypes.NAMESPACE, "authorizer": decltypes.DYN}
        if params[0]:
            env["params"] = params[1]
        declared: dict = {}
        env["variables"] = decltypes.ObjT(lambda: declared)
        for variable in spec.get("variables") or ():
            if not isinstance(variable, dict) or not isinstance(variable.get("name"), str):
                continue
            issues, t = typecheck.check_expression(str(variable.get("expression") or ""), env)
            # a variable that does not check is dynamic; its own issues are not reported
            declared[variable["name"]] = decltypes.DYN if issues or t is decltypes.ERROR else t
        return env

    def check(self, policy: dict, unresolved: list | None = None) -> list[dict]:
        """upstream ``TypeChecker.Check``: the expression warnings for ``status``."""
        spec = policy.get("spec") if isinstance(policy.get("spec"), dict) else {}
        targets = []
        for gvk in types_to_check(spec, self.resolver, unresolved):
            found, t = self.resolver.decl_type(gvk)
            if found:
                targets.append((gvk, t))
        if not targets:
            return []
        params = self._params(spec)
        envs = [(gvk, self._environment(spec, t, params)) for gvk, t in targets]
        warnings = []
        for i, validation in enumerate(spec.get("validations") or ()):
            if not isinstance(validation, dict):
                continue
            for key in ("expression", "messageExpression"):
                text = validation.get(key)
                if key == "messageExpression" and not text:
                    continue
                results = []
                for gvk, env in envs:
                    issues, _ = typecheck.check_expression(str(text or ""), env)
                    if issues:
                        results.append(f"{_gvk_text(gvk)}: {issues}\n")
                if results:
                    warnings.append({"fieldRef": f"spec.validations[{i}].{key}",
                                     "warning": "\n".join(results)})
        return warnings


class ValidatingAdmissionPolicyStatusController(PollingController):
    name = MANAGER

    def __init__(self, stores, *, poll_seconds: float = POLL_SECONDS,
                 grace: float = UNRESOLVED_GRACE):
        self.stores = stores
        self.policies = stores.store(GROUP, VERSION, RESOURCE)
        self.cursor = None
        self.grace = grace
        self.waiting: dict = {}          # (uid, generation) -> when first found unresolved
        super().__init__(poll_seconds=poll_seconds)

    def _unchanged(self) -> bool:
        if self.cursor is None:
            return False
        storage = self.policies.storage
        try:
            return not storage.changes_after(self.cursor, 1, resource=self.policies.resource)
        except Compacted:
            return False

    def sync(self) -> int:
        """Check every policy whose generation was not observed yet; returns how many
        statuses it wrote."""
        if self._unchanged():
            return 0
        cursor = self.policies.storage.current_revision()
        checker = TypeChecker(SchemaResolver(self.stores.index))
        done, failed, now = 0, False, time.monotonic()
        for doc in self.policies.list(None)["items"]:
            policy = orjson.loads(doc)
            meta, status = policy.get("metadata") or {}, policy.get("status") or {}
            generation = meta.get("generation") or 0
            if generation <= (status.get("observedGeneration") or 0):
                continue
            unresolved: list = []
            warnings = checker.check(policy, unresolved)
            key = (meta.get("uid"), generation)
            if unresolved and now - self.waiting.setdefault(key, now) < self.grace:
                failed = True                   # look again next pass: not served yet
                continue
            self.waiting.pop(key, None)
            try:
                done += self._write(policy, warnings)
            except errors.APIError as err:      # the next pass tries again
                failed = True
                log.warning("validatingadmissionpolicy %s: status not updated (%s)",
                            meta.get("name"), err.reason)
        if not failed:
            self.cursor = cursor
            self.waiting.clear()
        return done

    def _write(self, policy: dict, warnings: list[dict]) -> int:
        meta = policy["metadata"]
        generation, uid = meta.get("generation"), meta.get("uid")
        wrote = []

        def transform(current):
            cmeta = current.get("metadata") or {}
            # checked against this generation: a newer one waits for the next pass
            if cmeta.get("uid") != uid or cmeta.get("generation") != generation:
                return current
            status = current.setdefault("status", {})
            status["observedGeneration"] = generation
            status["typeChecking"] = {"expressionWarnings": warnings} if warnings else {}
            wrote.append(True)
            return current
        ctx = system_context(MANAGER, self.stores).for_subresource("status")
        try:
            self.policies.guaranteed_update(None, meta["name"], transform, ctx)
        except errors.NotFound:
            return 0
        return 1 if wrote else 0


def start_validatingadmissionpolicy_status_controller(hook) -> None:
    """Post-start hook: keep every policy's type checking current until the server stops."""
    controller = ValidatingAdmissionPolicyStatusController(hook.stores)
    if controller.policies is None:
        return
    controller.start(hook.stop, storages=[controller.policies.storage])
