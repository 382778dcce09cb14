"""ValidatingAdmissionPolicy (upstream k8s.io/apiserver
``pkg/admission/plugin/policy/validating/`` and ``policy/generic/``).

Each request is matched against every binding whose policy exists; matching policies'
``validations`` are evaluated with ``object``, ``oldObject``, ``request``, ``params``,
``namespaceObject`` and ``variables``, once per param the binding's ``paramRef`` selects
(by name or by label selector, upstream's generic.CollectParams).  A false result is a
decision the binding's ``validationActions`` act on: ``Deny`` refuses with upstream's
``<resource> "<name>" is forbidden: ValidatingAdmissionPolicy 'P' with binding 'B' denied
request: MSG`` (reason Invalid, 422, unless the validation's ``reason`` says otherwise),
``Warn`` adds a Warning, ``Audit`` records the ``validation_failure`` audit annotation.
``auditAnnotations`` publish ``<policy>/<key>`` annotations.  Expressions that fail follow
``failurePolicy`` (default Fail); so do configuration errors (a missing param with
``parameterNotFoundAction: Deny``), which refuse whatever the actions are.  Policies and
bindings are read from memory (apiserver.registry.followed), compiled programs cached by
resourceVersion.

``matchPolicy: Equivalent`` (the default) matches a request through any version that
serves the same objects (resources.admission.equivalence); the expressions then see the
object in the version the policy's rules named, and ``request.kind``/``request.resource``
name it (``requestKind``/``requestResource`` the client's own).  ``authorizer`` and
``authorizer.requestResource`` ask the server's authorizer about the requesting user
(apiserver.cel.authz).
"""
from __future__ import annotations

import json

import orjson

from apiserver.admission.base import Plugin
from apiserver.cel import CompileError, EvaluationError, authz, compile_expression
from apiserver.registry.followed import FollowedLists
from apiserver.registry.initializer import WantsAuthorizer, WantsStores
from apiserver.runtime import errors
from apiserver.runtime.selectors import label_selector_from_dict
from resources.admission import equivalence
from resources.admission import webhook_dispatch as webhook_rules
from resources.admission.equivalence import Match
from resources.admission.refusals import new_forbidden

GROUP = "admissionregistration.k8s.io"
# upstream validating/dispatcher.go reasonToCode (anything else is 422)
REASON_CODES = {"Unauthorized": 401, "Forbidden": 403, "Invalid": 422,
                "RequestEntityTooLarge": 413}
AUDIT_FAILURE_KEY = "validation.policy.admission.k8s.io/validation_failure"
MAX_AUDIT_VALUE = 10 * 1024


def _rules_match(rules: list, match_policy, attrs, stores) -> Match | None:
    """NamedRuleWithOperations: the webhook rules' matching (upstream policy/matching uses
    the same predicates/rules) narrowed by resourceNames."""
    return webhook_rules.rules_match(
        [r for r in rules if not r.get("resourceNames") or attrs.name in r["resourceNames"]],
        match_policy, attrs, stores)


def _labels(obj):
    return ((obj or {}).get("metadata") or {}).get("labels") or {}


class ValidatingAdmissionPolicy(Plugin, WantsStores, WantsAuthorizer):
    name = "ValidatingAdmissionPolicy"
    validating = True
    stores = None
    authorizer = None           # the expressions' ``authorizer`` variable

    def set_authorizer(self, authorizer) -> None:
        self.authorizer = authorizer

    def __init__(self):
        self._compiled: dict = {}

    _followed = None

    def set_stores(self, stores) -> None:
        self.stores = stores
        self._followed = FollowedLists(stores, GROUP, "v1")

    def _list(self, resource):
        return self._followed.items(resource)

    def _program(self, text):
        try:
            return compile_expression(text, authz=True)
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
                "audit": [(a.get("key"), self._program(a.get("valueExpression", "")))
                          for a in spec.get("auditAnnotations") or []],
            }
        return self._compiled[key]

    def _matches(self, resources: dict | None, attrs) -> Match | None:
        """What ``resources`` (a policy's matchConstraints or a binding's matchResources)
        matches of the request, or None (upstream policy/matching/matching.go Matches):
        the excluded rules and then the rules, both under its matchPolicy, then the
        selectors."""
        own = equivalence.request_match(attrs)
        if not resources:
            return own
        policy = resources.get("matchPolicy")
        # a binding's matchResources without resourceRules does not narrow what the policy
        # matches (upstream MatchResources doc; a policy's matchConstraints must have rules)
        rules = resources.get("resourceRules") or []
        match = _rules_match(rules, policy, attrs, self.stores) if rules else own
        if match is None:
            return None
        if _rules_match(resources.get("excludeResourceRules") or [], policy, attrs,
                        self.stores) is not None:
            return None
        selector = resources.get("objectSelector")
        obj = attrs.obj if attrs.obj is not None else attrs.old
        if selector and not label_selector_from_dict(selector).matches(_labels(obj)):
            return None
        selector = resources.get("namespaceSelector")
        if selector and attrs.namespace:
            store = self.stores.store("", "v1", "namespaces")
            found = store.storage.get(store.resource, "", attrs.namespace)
            ns = orjson.loads(found[0]) if found else {}
            if not label_selector_from_dict(selector).matches(_labels(ns)):
                return None
        return match

    def _param_store(self, kind: dict):
        group, _, version = (kind.get("apiVersion") or "v1").rpartition("/")
        for store in self.stores.all():
            st = store.strategy
            if (st.group, st.version, getattr(st, "kind", "")) == (group, version,
                                                                   kind.get("kind")):
                return store
        return None

    def _params(self, policy, binding, attrs) -> list:
        """The params one binding is evaluated with (upstream generic.CollectParams):
        ``[None]`` without paramKind or paramRef; raises ``_ConfigError``."""
        kind = (policy.get("spec") or {}).get("paramKind")
        ref = (binding.get("spec") or {}).get("paramRef")
        if not kind or not ref:
            return [None]
        store = self._param_store(kind)
        if store is None:
            raise _ConfigError(f"paramKind kind `{kind.get('apiVersion')}, Kind="
                               f"{kind.get('kind')}` not known")
        ns = None
        if store.strategy.namespaced:
            ns = ref.get("namespace") or attrs.namespace
            if not ns:
                raise _ConfigError("cannot use namespaced paramRef in policy binding that "
                                   "matches cluster-scoped resources")
        elif ref.get("namespace"):
            raise _ConfigError("paramRef.namespace must not be provided for a cluster-scoped "
                               "`paramKind`")
        if ref.get("name"):
            found = store.storage.get(store.resource, ns or "", ref["name"])
            params = [orjson.loads(found[0])] if found else []
        else:
            selector = label_selector_from_dict(ref.get("selector") or {})
            params = [p for p in (orjson.loads(d) for d in
                                  store.storage.list(store.resource, ns).items)
                      if selector.matches(_labels(p))]
        if not params and ref.get("parameterNotFoundAction") == "Deny":
            raise _ConfigError("no params found for policy binding with `Deny` "
                               "parameterNotFoundAction")
        return params

    def _namespace_object(self, attrs):
        if not attrs.namespace or (attrs.group, attrs.resource) == ("", "namespaces"):
            return None
        store = self.stores.store("", "v1", "namespaces")
        found = store.storage.get(store.resource, "", attrs.namespace)
        return orjson.loads(found[0]) if found else None

    def validate(self, attrs) -> None:
        if self.stores is None:
            return
        policies = {p["metadata"]["name"]: p for p in self._list("validatingadmissionpolicies")}
        denied: list = []                 # (policy, binding, message, reason), in order
        for binding in self._list("validatingadmissionpolicybindings"):
            spec = binding.get("spec") or {}
            policy = policies.get(spec.get("policyName"))
            if policy is None:
                continue
            match = self._matches((policy.get("spec") or {}).get("matchConstraints"), attrs)
            if match is None or self._matches(spec.get("matchResources"), attrs) is None:
                continue
            fail = ((policy.get("spec") or {}).get("failurePolicy") or "Fail") == "Fail"
            try:
                params = self._params(policy, binding, attrs)
            except _ConfigError as exc:
                if fail:
                    denied.append((policy, binding, f"failed to configure binding: {exc}", ""))
                continue
            for param in params:
                self._evaluate(policy, binding, param, attrs, denied, match)
        if denied:
            policy, binding, message, reason = denied[0]
            text = (f"ValidatingAdmissionPolicy '{policy['metadata']['name']}' with binding "
                    f"'{binding['metadata']['name']}' denied request: {message}")
            raise _denial(attrs, text, reason or "Invalid")

    def _evaluate(self, policy, binding, param, attrs, denied: list, match: Match) -> None:
        """One policy, binding and param: act on each failed validation as the binding's
        actions say; append refusals to ``denied``; publish audit annotations.  The
        expressions see the objects in ``match``'s version (upstream VersionedAttributes)."""
        pname, bname = policy["metadata"]["name"], binding["metadata"]["name"]
        actions = (binding.get("spec") or {}).get("validationActions") or []
        fail = ((policy.get("spec") or {}).get("failurePolicy") or "Fail") == "Fail"
        user = attrs.user
        own = equivalence.request_match(attrs)
        request = {"operation": attrs.operation, "namespace": attrs.namespace,
                   "name": attrs.name, "uid": attrs.uid, "dryRun": attrs.dry_run,
                   "resource": match.gvr(), "subResource": match.subresource,
                   "kind": match.gvk(), "requestResource": own.gvr(),
                   "requestKind": own.gvk(), "requestSubResource": own.subresource,
                   "userInfo": {"username": getattr(user, "name", "") or "",
                                "uid": getattr(user, "uid", "") or "",
                                "groups": list(getattr(user, "groups", ()) or ())}}
        env = {"object": equivalence.versioned(self.stores, attrs, match, attrs.obj),
               "oldObject": equivalence.versioned(self.stores, attrs, match, attrs.old),
               "request": request, "params": param,
               "namespaceObject": self._namespace_object(attrs),
               **authz.variables(user, self.authorizer, webhook_rules.request_resource(attrs))}
        compiled = self._policy_programs(policy)

        def run(program):
            if isinstance(program, CompileError):
                raise EvaluationError(f"compilation error: {program}")
            return program.evaluate(env)

        try:
            for program in compiled["conditions"]:
                if not run(program):
                    return
            variables = {}
            for name, program in compiled["variables"]:
                try:
                    variables[name] = run(program)
                except EvaluationError:
                    variables[name] = None     # upstream: the error surfaces where it is used
                env["variables"] = variables
            env["variables"] = variables
        except EvaluationError as exc:
            if fail:
                denied.append((policy, binding, str(exc), ""))
            return
        for index, (validation, program, message_program) in enumerate(compiled["validations"]):
            try:
                if run(program):
                    continue
                message = validation.get("message") or ""
                if message_program is not None and not isinstance(message_program, Exception):
                    try:
                        message = str(message_program.evaluate(env)).strip() or message
                    except EvaluationError:
                        pass
                if not message:
                    message = f"failed expression: {validation.get('expression', '')}"
                reason = validation.get("reason") or ""
            except EvaluationError as exc:
                if not fail:
                    continue
                message = (f"expression '{validation.get('expression', '')}' resulted in "
                           f"error: {exc}")
                reason = ""
            for action in actions:
                if action == "Deny":
                    denied.append((policy, binding, message, reason))
                elif action == "Warn":
                    attrs.warn(f"Validation failed for ValidatingAdmissionPolicy '{pname}' "
                               f"with binding '{bname}': {message}")
                elif action == "Audit":
                    attrs.annotations.setdefault(AUDIT_FAILURE_KEY, json.dumps([{
                        "message": message, "policy": pname, "binding": bname,
                        "expressionIndex": index, "validationActions": list(actions)}],
                        separators=(",", ":")))
        for key, program in compiled["audit"]:
            try:
                value = run(program)
            except EvaluationError as exc:
                if fail:
                    denied.append((policy, binding, str(exc), ""))
                continue
            if value is None:
                continue                      # null: the annotation is left out
            value = str(value)[:MAX_AUDIT_VALUE]
            full = f"{pname}/{key}"
            seen = attrs.annotations.get(full)
            if seen is None:
                attrs.annotations[full] = value
            elif value not in seen.split(", "):
                # distinct values from several bindings or params are joined, as upstream
                attrs.annotations[full] = f"{seen}, {value}"


class _ConfigError(Exception):
    """A binding that cannot be evaluated ("failed to configure binding: …")."""


class _PolicyDenial(errors.APIError):
    def __init__(self, message, code, reason, details, causes):
        super().__init__(message, details=details, causes=causes)
        self.code, self.reason = code, reason


def _denial(attrs, text: str, reason: str) -> errors.APIError:
    """upstream: admission.NewForbidden's message and details, the decision's reason (Invalid
    by default) and its code, the text once more as a cause."""
    base = new_forbidden(attrs, text)
    return _PolicyDenial(base.message, REASON_CODES.get(reason, 422), reason, base.details,
                         [errors.Cause("", text)])
