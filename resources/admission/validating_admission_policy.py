"""ValidatingAdmissionPolicy (upstream k8s.io/apiserver
``pkg/admission/plugin/policy/validating/`` and ``policy/generic/``).

Each request is matched against every binding whose policy exists; matching policies'
``validations`` are evaluated with ``object``, ``oldObject``, ``request``, ``params`` and
``variables``.  A false result with ``Deny`` refuses with upstream's text
``ValidatingAdmissionPolicy 'P' with binding 'B' denied request: MSG`` (403 unless
``reason`` says otherwise); ``Warn`` adds a Warning.  A policy whose expressions do not
compile, or fail, follows ``failurePolicy`` (default Fail).  Policies and bindings are read
through the stores on each request; compiled programs are cached by resourceVersion.

Simplified (not yet): excludeResourceRules, matchPolicy Equivalent, paramRef selector,
namespaceObject, authorizer, auditAnnotations, Audit action, status.typeChecking.
"""
from __future__ import annotations

import orjson

from apiserver.admission.base import Plugin
from apiserver.cel import CompileError, EvaluationError, compile_expression
from apiserver.registry.initializer import WantsStores
from apiserver.runtime import errors
from apiserver.runtime.selectors import label_selector_from_dict

GROUP = "admissionregistration.k8s.io"
REASON_CODES = {"Unauthorized": errors.Unauthorized, "Forbidden": errors.Forbidden,
                "Invalid": errors.Invalid, "RequestEntityTooLarge": errors.RequestEntityTooLarge}


def _rule_matches(rule: dict, attrs) -> bool:
    def has(values, value):
        return "*" in (values or []) or value in (values or [])
    resource = attrs.resource + ("/" + attrs.subresource if attrs.subresource else "")
    return (has(rule.get("apiGroups"), attrs.group) and has(rule.get("apiVersions"), attrs.version)
            and has(rule.get("operations"), attrs.operation)
            and has(rule.get("resources"), resource)
            and (not rule.get("resourceNames") or attrs.name in rule["resourceNames"]))


def _labels(obj):
    return ((obj or {}).get("metadata") or {}).get("labels") or {}


class ValidatingAdmissionPolicy(Plugin, WantsStores):
    name = "ValidatingAdmissionPolicy"
    validating = True
    stores = None

    def __init__(self):
        self._compiled: dict = {}

    def set_stores(self, stores) -> None:
        self.stores = stores

    def _list(self, resource):
        store = self.stores.store(GROUP, "v1", resource)
        return [orjson.loads(d) for d in store.storage.list(store.resource, None).items]

    def _program(self, text):
        try:
            return compile_expression(text)
        except CompileError as exc:
            return exc

    def _policy_programs(self, policy):
        key = (policy["metadata"]["name"], policy["metadata"].get("resourceVersion"))
        if key not in self._compiled:
            spec = policy.get("spec") or {}
            self._compiled[key] = {
                "validations": [(v, self._program(v.get("expression", "")),
                                 self._program(v["messageExpression"])
                                 if v.get("messageExpression") else None)
                                for v in spec.get("validations") or []],
                "variables": [(v.get("name"), self._program(v.get("expression", "")))
                              for v in spec.get("variables") or []],
                "conditions": [self._program(c.get("expression", ""))
                               for c in spec.get("matchConditions") or []],
            }
        return self._compiled[key]

    def _matches(self, resources: dict | None, attrs) -> bool:
        if not resources:
            return True
        if not any(_rule_matches(r, attrs) for r in resources.get("resourceRules") or []):
            return False
        if any(_rule_matches(r, attrs) for r in resources.get("excludeResourceRules") or []):
            return False
        selector = resources.get("objectSelector")
        obj = attrs.obj if attrs.obj is not None else attrs.old
        if selector and not label_selector_from_dict(selector).matches(_labels(obj)):
            return False
        selector = resources.get("namespaceSelector")
        if selector and attrs.namespace:
            store = self.stores.store("", "v1", "namespaces")
            found = store.storage.get(store.resource, "", attrs.namespace)
            ns = orjson.loads(found[0]) if found else {}
            if not label_selector_from_dict(selector).matches(_labels(ns)):
                return False
        return True

    def _params(self, policy, binding, attrs):
        kind = (policy.get("spec") or {}).get("paramKind")
        ref = (binding.get("spec") or {}).get("paramRef")
        if not kind or not ref:
            return None, True
        group, _, version = (kind.get("apiVersion") or "v1").rpartition("/")
        resource = (kind.get("kind") or "").lower() + "s"
        store = self.stores.store(group, version, resource)
        ns = ref.get("namespace") or attrs.namespace
        found = store.storage.get(store.resource, ns, ref.get("name") or "")
        if found is None:
            return None, ref.get("parameterNotFoundAction") != "Deny"
        return orjson.loads(found[0]), True

    def validate(self, attrs) -> None:
        if self.stores is None:
            return
        policies = {p["metadata"]["name"]: p for p in self._list("validatingadmissionpolicies")}
        for binding in self._list("validatingadmissionpolicybindings"):
            spec = binding.get("spec") or {}
            policy = policies.get(spec.get("policyName"))
            if policy is None:
                continue
            if not self._matches((policy.get("spec") or {}).get("matchConstraints"), attrs) \
                    or not self._matches(spec.get("matchResources"), attrs):
                continue
            self._evaluate(policy, binding, attrs)

    def _evaluate(self, policy, binding, attrs):
        pname, bname = policy["metadata"]["name"], binding["metadata"]["name"]
        actions = (binding.get("spec") or {}).get("validationActions") or ["Deny"]
        fail = ((policy.get("spec") or {}).get("failurePolicy") or "Fail") == "Fail"
        prefix = f"ValidatingAdmissionPolicy '{pname}' with binding '{bname}' denied request: "

        def refuse(message, reason="Forbidden"):
            if "Warn" in actions:
                attrs.warn(f"Validation failed for ValidatingAdmissionPolicy '{pname}' with "
                           f"binding '{bname}': {message}")
            if "Deny" in actions:
                raise REASON_CODES.get(reason, errors.Forbidden)(prefix + message)

        params, found = self._params(policy, binding, attrs)
        if not found:
            refuse("failed to configure binding: no params found for policy binding "
                   "with `Deny` parameterNotFoundAction")
            return
        user = attrs.user
        request = {"operation": attrs.operation, "namespace": attrs.namespace,
                   "name": attrs.name, "uid": attrs.uid, "dryRun": attrs.dry_run,
                   "resource": {"group": attrs.group, "version": attrs.version,
                                "resource": attrs.resource},
                   "subResource": attrs.subresource,
                   "kind": {"group": attrs.group, "version": attrs.version, "kind": attrs.kind},
                   "userInfo": {"username": getattr(user, "name", "") or ""}}
        env = {"object": attrs.obj, "oldObject": attrs.old, "request": request,
               "params": params}
        compiled = self._policy_programs(policy)
        try:
            for program in compiled["conditions"]:
                if isinstance(program, Exception):
                    raise program
                if not program.evaluate(env):
                    return
            variables = {}
            for name, program in compiled["variables"]:
                if isinstance(program, Exception):
                    raise program
                variables[name] = program.evaluate(dict(env, variables=variables))
            env["variables"] = variables
            for validation, program, message_program in compiled["validations"]:
                if isinstance(program, Exception):
                    raise program
                if program.evaluate(env):
                    continue
                message = validation.get("message") or ""
                if message_program is not None and not isinstance(message_program, Exception):
                    try:
                        message = str(message_program.evaluate(env)).strip() or message
                    except EvaluationError:
                        pass
                if not message:
                    message = f"failed expression: {validation.get('expression', '')}"
                refuse(message, validation.get("reason") or "Forbidden")
        except (CompileError, EvaluationError) as exc:
            if fail:
                refuse(f"expression evaluation failed: {exc}")
