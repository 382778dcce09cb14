"""What the access reviews share: spec validation, attributes and the authorizer's verdict.

Upstream: kubernetes/kubernetes:pkg/apis/authorization/validation/validation.go (messages),
pkg/registry/authorization/util/helpers.go (spec → attributes) and the reviews' REST
``Create`` (status ``{allowed, denied?, reason?, evaluationError?}``).  The question goes to
the server's own authorizer (handed to :class:`ReviewStrategy` when the kind is installed),
so a review answers exactly what a request by that user would get.
"""
from __future__ import annotations

from apiserver.authorization.base import AuthorizationAttributes, Decision
from apiserver.authentication.user import UserInfo
from apiserver.registry.initializer import WantsAuthorizer
from apiserver.registry.strategy import Strategy
from apiserver.runtime import errors
from apiserver.runtime.validation import GoText

NON_RESOURCE_FIELDS = (("path", "Path"), ("verb", "Verb"))


def go_value(type_name: str, fields, data: dict | None):
    """A field-error value as upstream prints a struct pointer: ``null`` when nil, else
    Go's ``%#v`` of the struct (``authorization.T{A:"x"}``)."""
    if data is None:
        return None
    return GoText("authorization.%s{%s}" % (
        type_name, ", ".join(f'{go}:"{data.get(js) or ""}"' for js, go in fields)))


def mapping(value) -> dict:
    return value if isinstance(value, dict) else {}


def _optional(value) -> dict | None:
    return value if isinstance(value, dict) else None


def validate_spec(spec: dict, *, require_subject: bool) -> list:
    """``ValidateSubjectAccessReviewSpec`` (``require_subject``) or the self variant."""
    res, non = _optional(spec.get("resourceAttributes")), _optional(spec.get("nonResourceAttributes"))
    errs = []
    if res is not None and non is not None:
        errs.append(errors.invalid("spec.nonResourceAttributes",
                                   go_value("NonResourceAttributes", NON_RESOURCE_FIELDS, non),
                                   "cannot be specified in combination with resourceAttributes"))
    if res is None and non is None:
        errs.append(errors.invalid("spec.resourceAttributes", None,
                                   "exactly one of nonResourceAttributes or resourceAttributes "
                                   "must be specified"))
    if require_subject and not spec.get("user") and not spec.get("groups"):
        errs.append(errors.invalid("spec.user", spec.get("user") or "",
                                   "at least one of user or group must be specified"))
    return errs


def metadata_errors(obj: dict, *, allow_namespace: bool = False) -> list:
    """The reviews take no metadata (a LocalSubjectAccessReview: only its namespace)."""
    meta = {k: v for k, v in mapping(obj.get("metadata")).items()
            if v not in (None, "", {}, []) and k != "managedFields"
            and not (allow_namespace and k == "namespace")}
    if not meta:
        return []
    detail = "must be empty except for namespace" if allow_namespace else "must be empty"
    return [errors.invalid("metadata", GoText("v1.ObjectMeta{" + ", ".join(
        f"{k}:{v!r}" for k, v in meta.items()) + "}"), detail)]


def subject_user(spec: dict) -> UserInfo:
    """The user a (Local)SubjectAccessReview asks about."""
    extra = {k: list(v) if isinstance(v, list) else [v]
             for k, v in mapping(spec.get("extra")).items()}
    return UserInfo(name=spec.get("user") or "", uid=spec.get("uid") or "",
                    groups=tuple(spec.get("groups") or ()), extra=extra)


def attributes(spec: dict, user) -> AuthorizationAttributes:
    """Upstream ``ResourceAttributesFrom`` / ``NonResourceAttributesFrom``."""
    res = _optional(spec.get("resourceAttributes"))
    if res is not None:
        return AuthorizationAttributes(
            user=user, verb=res.get("verb") or "", is_resource_request=True,
            namespace=res.get("namespace") or "", api_group=res.get("group") or "",
            api_version=res.get("version") or "", resource=res.get("resource") or "",
            subresource=res.get("subresource") or "", name=res.get("name") or "")
    non = mapping(spec.get("nonResourceAttributes"))
    return AuthorizationAttributes(user=user, verb=non.get("verb") or "",
                                   is_resource_request=False, path=non.get("path") or "")


class ReviewStrategy(Strategy, WantsAuthorizer):
    """The review kinds: create-only, never stored, answered by the server's authorizer
    (handed over when the kind is installed), so a review answers what a request would get."""

    verbs = ("create",)
    stored = False
    namespaced = False
    authorizer = None

    def set_authorizer(self, authorizer) -> None:
        self.authorizer = authorizer


def verdict(authorizer, spec: dict, user) -> dict:
    """A ``SubjectAccessReviewStatus`` from ``authorizer``."""
    try:
        decision, reason = authorizer.authorize(attributes(spec, user))
    except Exception as exc:  # an authorizer failing is reported, not a 500 (upstream)
        return {"allowed": False, "evaluationError": str(exc)}
    status = {"allowed": decision is Decision.ALLOW}
    if decision is Decision.DENY:
        status["denied"] = True
    if reason:
        status["reason"] = reason
    return status


def answer(strategy, obj: dict, status: dict) -> tuple[int, dict]:
    """201 with the request echoed (``kind``/``apiVersion`` filled in) and ``status`` set."""
    out = dict(obj)
    out["kind"], out["apiVersion"] = strategy.kind, strategy.api_version()
    meta = dict(mapping(obj.get("metadata")))
    meta.setdefault("creationTimestamp", None)
    out["metadata"] = meta
    out["spec"] = mapping(obj.get("spec"))
    out["status"] = status
    return 201, out


def invalid(strategy, errs: list) -> errors.Invalid:
    return errors.Invalid.for_object(strategy.kind, strategy.group, "", errs)
