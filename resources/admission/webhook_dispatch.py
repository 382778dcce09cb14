"""Generic admission webhooks: matching, AdmissionReview v1, the HTTPS call and the answer.

Upstream: k8s.io/apiserver ``pkg/admission/plugin/webhook/`` (generic/webhook.go,
predicates/{rules,namespace,object}, request/admissionreview.go, errors/, and the
mutating/validating dispatchers).  Kind-agnostic: the configurations are plain dicts read
from the stores by the plugins in resources/admission/.

The HTTPS call itself (service resolution, caBundle, server name) is
apiserver.webhook_client's, shared with CustomResourceDefinition conversion webhooks.
"""
from __future__ import annotations

import base64
import copy
import functools
import json
import uuid

from celpy import celtypes

from apiserver import webhook_client
from apiserver.cel import CompileError, EvaluationError, authz, compile_expression
from apiserver.endpoints.patch.jsonpatch import apply_json_patch
from apiserver.registry.followed import FollowedLists
from apiserver.runtime import errors
from apiserver.runtime.selectors import label_selector_from_dict
from resources.admission import equivalence
from resources.admission.equivalence import Match
from resources.admission.refusals import new_forbidden

# upstream rules.IsExemptAdmissionConfigurationResource
EXEMPT = {"validatingwebhookconfigurations", "mutatingwebhookconfigurations",
          "validatingadmissionpolicies", "validatingadmissionpolicybindings",
          "mutatingadmissionpolicies", "mutatingadmissionpolicybindings"}
OPTIONS_KIND = {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions", "DELETE": "DeleteOptions"}


class CallError(Exception):
    """The webhook could not be called or answered badly: failurePolicy decides."""


def _any(values, value) -> bool:
    return "*" in (values or []) or value in (values or [])


def _resource_matches(patterns, resource: str, sub: str) -> bool:
    # upstream predicates/rules/rules.go resource(): "*", "*/*", "r/*", "*/s", "r/s"
    for p in patterns or []:
        r, _, s = p.partition("/")
        if not s and not sub and r in ("*", resource):
            return True
        if s and sub and r in ("*", resource) and s in ("*", sub):
            return True
    return False


def rule_matches(rule: dict, attrs, match: Match | None = None) -> bool:
    """One ``RuleWithOperations`` against the request (upstream rules.Matcher), or against
    ``match``, one of its equivalent resources (upstream attrWithResourceOverride)."""
    match = match or equivalence.request_match(attrs)
    scope = rule.get("scope") or "*"
    if scope == "Cluster" and attrs.namespace:
        return False
    if scope == "Namespaced" and not attrs.namespace:
        return False
    return (_any(rule.get("operations"), attrs.operation)
            and _any(rule.get("apiGroups"), match.group)
            and _any(rule.get("apiVersions"), match.version)
            and _resource_matches(rule.get("resources"), match.resource, match.subresource))


def rules_match(rules: list, match_policy: str | None, attrs, stores) -> Match | None:
    """What a list of rules matches (upstream generic/webhook.go ShouldCallHook): the
    request's own resource when a rule names it; else, under ``matchPolicy: Equivalent``
    (the default), the first equivalent resource a rule names, rules in order first."""
    own = equivalence.request_match(attrs)
    if any(rule_matches(r, attrs, own) for r in rules):
        return own
    if (match_policy or "Equivalent") != "Equivalent":
        return None
    candidates = equivalence.equivalents(stores, attrs)
    for rule in rules:
        for candidate in candidates:
            if rule_matches(rule, attrs, candidate):
                return candidate
    return None


def _labels(obj) -> dict:
    return ((obj or {}).get("metadata") or {}).get("labels") or {}


def namespace_matches(hook: dict, attrs, stores) -> bool:
    """upstream predicates/namespace: cluster-scoped objects match; a Namespace's own
    labels are used for Namespace objects; otherwise the namespace's labels."""
    selector = hook.get("namespaceSelector")
    if selector is None:
        selector = {}
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        return True
    if attrs.resource == "namespaces" and attrs.group == "":
        labels = _labels(attrs.obj if attrs.operation != "DELETE" else attrs.old)
    elif not attrs.namespace:
        return True
    else:
        labels = _labels(webhook_client.stored_object(stores, "namespaces", "", attrs.namespace))
    return label_selector_from_dict(selector).matches(labels)


def object_matches(hook: dict, attrs) -> bool:
    """upstream predicates/object: either the old or the new object's labels match."""
    selector = hook.get("objectSelector")
    if not selector or (not selector.get("matchLabels") and not selector.get("matchExpressions")):
        return True
    sel = label_selector_from_dict(selector)
    return any(sel.matches(_labels(o)) for o in (attrs.obj, attrs.old) if o is not None)


@functools.lru_cache(maxsize=1024)
def _condition(expression: str):
    """A compiled matchCondition (or its CompileError), kept across requests: the
    configurations are immutable per text, and compiling costs more than evaluating."""
    try:
        return compile_expression(expression, authz=True)
    except CompileError as exc:
        return exc


def conditions_match(hook: dict, attrs, match: Match | None = None, stores=None,
                     authorizer=None) -> bool:
    """The webhook's matchConditions (upstream webhook/matchconditions/matcher.go): any
    condition false skips the webhook; all true calls it; errors with none false follow
    failurePolicy — Ignore skips, Fail refuses the request as Forbidden without calling.
    The expressions see the object in the matched version, the AdmissionReview request
    and, with an authorizer, ``authorizer`` (apiserver.cel.authz)."""
    conditions = hook.get("matchConditions") or []
    if not conditions:
        return True
    env = None
    failures = []
    for condition in conditions:
        expression = condition.get("expression") or ""
        program = _condition(expression)
        if env is None:
            request = build_review(attrs, match, stores)["request"]
            env = {"object": request["object"], "oldObject": request["oldObject"],
                   "request": request,
                   **authz.variables(attrs.user, authorizer, request_resource(attrs))}
        try:
            if isinstance(program, CompileError):
                raise EvaluationError(str(program))
            result = program.evaluate(env)
        except EvaluationError as exc:
            # upstream cel/filter.go words an evaluation error this way
            failures.append(f"expression '{expression}' resulted in error: {exc}")
            continue
        if not isinstance(result, (bool, celtypes.BoolType)):
            failures.append(f"expression '{expression}' resulted in error: "
                            "cel expression must evaluate to a bool")
        elif not result:
            return False
    if not failures:
        return True
    if (hook.get("failurePolicy") or "Fail") == "Ignore":
        return False
    # utilerrors.NewAggregate: one error is its message, several are bracketed
    message = failures[0] if len(failures) == 1 else "[" + ", ".join(failures) + "]"
    raise new_forbidden(attrs, message)


def request_resource(attrs) -> tuple:
    """(group, resource, subresource, namespace, name) of the request, for
    ``authorizer.requestResource``."""
    group, _, _, resource = attrs.request_gvk()
    return group, resource, attrs.subresource, attrs.namespace, attrs.name


def matches(hook: dict, attrs, stores, authorizer=None) -> Match | None:
    """What ``hook`` is called with for the request, or None when it is not called
    (upstream generic/webhook.go ShouldCallHook): exempt configuration kinds never; then
    the rules (with ``matchPolicy``), the namespace and object selectors, and last the
    matchConditions (which may refuse, see above)."""
    if attrs.group == "admissionregistration.k8s.io" and attrs.resource in EXEMPT:
        return None
    match = rules_match(hook.get("rules") or [], hook.get("matchPolicy"), attrs, stores)
    if match is None:
        return None
    if not (namespace_matches(hook, attrs, stores) and object_matches(hook, attrs)):
        return None
    return match if conditions_match(hook, attrs, match, stores, authorizer) else None


def build_review(attrs, match: Match | None = None, stores=None) -> dict:
    """The AdmissionReview v1 request (upstream request/admissionreview.go
    CreateAdmissionRequest): ``kind``/``resource`` and the objects in the version the
    webhook matched, ``requestKind``/``requestResource`` as the client named them."""
    user = attrs.user
    user_info = {}
    if user is not None:
        user_info = {"username": getattr(user, "name", ""), "uid": getattr(user, "uid", ""),
                     "groups": list(getattr(user, "groups", ()) or ())}
        if getattr(user, "extra", None):
            user_info["extra"] = {k: list(v) for k, v in user.extra.items()}
    options = dict(attrs.options or {})
    if attrs.operation in OPTIONS_KIND:
        options.setdefault("kind", OPTIONS_KIND[attrs.operation])
        options.setdefault("apiVersion", "meta.k8s.io/v1")
    own = equivalence.request_match(attrs)
    match = match or own
    obj = attrs.obj if attrs.operation != "DELETE" else None
    old = attrs.old if attrs.operation != "CREATE" else None
    if stores is not None:
        obj = equivalence.versioned(stores, attrs, match, obj)
        old = equivalence.versioned(stores, attrs, match, old)
    request = {"uid": attrs.uid or str(uuid.uuid4()), "kind": match.gvk(),
               "resource": match.gvr(), "requestKind": own.gvk(),
               "requestResource": own.gvr(),
               "name": attrs.name, "namespace": attrs.namespace, "operation": attrs.operation,
               "userInfo": user_info, "object": obj, "oldObject": old,
               "dryRun": bool(attrs.dry_run), "options": options or None}
    if attrs.subresource:
        request["subResource"] = match.subresource
        request["requestSubResource"] = own.subresource
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


def call(hook: dict, review: dict, stores, pool=None) -> dict:
    """POST the review (apiserver.webhook_client, over ``pool``'s kept-alive connections),
    return the answer's ``response``."""
    try:
        answer = webhook_client.post_json(hook.get("clientConfig") or {}, review, stores,
                                          timeout=int(hook.get("timeoutSeconds") or 10),
                                          pool=pool)
    except webhook_client.CallError as exc:
        # upstream wraps errors of the call itself in "failed to call webhook"
        raise CallError(f"failed to call webhook: {exc}" if exc.transport else str(exc)) from None
    if not isinstance(answer, dict) or answer.get("kind") != "AdmissionReview" \
            or answer.get("apiVersion") != "admission.k8s.io/v1":
        raise CallError("expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview")
    response = answer.get("response")
    if not isinstance(response, dict):
        raise CallError("webhook response was absent")
    if response.get("uid") != review["request"]["uid"]:
        raise CallError(f"expected response.uid=\"{review['request']['uid']}\", "
                        f"got \"{response.get('uid', '')}\"")
    return response


class WebhookStatusError(errors.APIError):
    """A refusal carrying the webhook's own status (upstream errors.ToStatusErr)."""

    def __init__(self, message, code, reason, details=None):
        super().__init__(message, details=details)
        self.code, self.reason = code, reason


def denied(name: str, status: dict | None) -> errors.APIError:
    status = status or {}
    code = int(status.get("code") or 0)
    code = code if code >= 400 else 400
    prefix = f'admission webhook "{name}" denied the request'
    text = status.get("message") or status.get("reason")
    message = f"{prefix}: {text}" if text else f"{prefix} without explanation"
    return WebhookStatusError(message, code, status.get("reason") or "", status.get("details"))


def dry_run_check(hook: dict, attrs) -> None:
    if attrs.dry_run and hook.get("sideEffects") not in ("None", "NoneOnDryRun"):
        raise errors.BadRequest(f'admission webhook "{hook.get("name")}" does not support dry run')


def invoke(hook: dict, attrs, stores, mutate: bool, pool=None,
           match: Match | None = None) -> bool:
    """Call one matching webhook (with what :func:`matches` answered); refuse, or
    (mutating) apply its patch to the object in the matched version and convert it back.
    True when the object was changed.  failurePolicy (default Fail) decides on call
    errors."""
    name = hook.get("name", "")
    dry_run_check(hook, attrs)
    match = match or equivalence.request_match(attrs)
    review = build_review(attrs, match, stores)
    try:
        response = call(hook, review, stores, pool)
    except CallError as exc:
        if (hook.get("failurePolicy") or "Fail") == "Ignore":
            attrs.annotations[f"failed-open.{'mutation' if mutate else 'validation'}"
                              f".webhook.admission.k8s.io/{name}"] = "true"
            return False
        raise errors.InternalError(
            f'Internal error occurred: failed calling webhook "{name}": {exc}') from None
    for warning in response.get("warnings") or []:
        attrs.warn(str(warning))
    for key, value in (response.get("auditAnnotations") or {}).items():
        attrs.annotations[f"{name}/{key}"] = value
    if not response.get("allowed"):
        raise denied(name, response.get("status"))
    patch = response.get("patch")
    if not patch or not mutate:
        return False
    if response.get("patchType") != "JSONPatch":
        raise errors.InternalError(
            f'Internal error occurred: failed calling webhook "{name}": '
            f'unsupported patch type "{response.get("patchType", "")}"')
    shown = review["request"]["object"]
    try:
        ops = json.loads(base64.b64decode(patch))
        new = apply_json_patch(copy.deepcopy(shown), ops)
    except (ValueError, errors.APIError) as exc:
        raise errors.InternalError(f'Internal error occurred: JSON Patch: {exc}') from None
    if new == shown:
        return False
    new = equivalence.from_versioned(stores, attrs, match, new)
    attrs.obj.clear()
    attrs.obj.update(new)
    return True


def configurations(stores) -> FollowedLists:
    """Webhook configurations read from memory per request, kept current from the change
    log (upstream reads them through informers)."""
    return FollowedLists(stores, "admissionregistration.k8s.io", "v1")


def hooks_of(configs: FollowedLists, resource: str) -> list[dict]:
    """Every webhook of every configuration of ``resource``, in order of configuration
    name, as upstream (cluster-scoped objects: the followed list is in name order)."""
    return [h for c in configs.items(resource) for h in c.get("webhooks") or []]
