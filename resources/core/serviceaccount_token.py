"""``POST …/serviceaccounts/<name>/token``: a TokenRequest (authentication.k8s.io/v1) answered
with a signed bound token (``kubectl create token``).  Nothing is stored.

Upstream: ``pkg/registry/core/serviceaccount/storage/token.go`` (order: validate, get the
ServiceAccount, resolve ``boundObjectRef``, default audiences, cap the lifetime, sign),
``ValidateTokenRequest`` and ``SetDefaults_TokenRequestSpec`` (3600 s).  Not done here: the
"extended" pod-bound lifetime with ``warnafter`` (``--service-account-extend-token-expiration``).
"""
from __future__ import annotations

from datetime import datetime, timezone

import orjson

from apiserver.authentication import serviceaccount_tokens as tokens
from apiserver.runtime import errors

GROUP, VERSION, KIND = "authentication.k8s.io", "v1", "TokenRequest"
DEFAULT_EXPIRATION_SECONDS = 3600
MIN_EXPIRATION_SECONDS = 10 * 60
MAX_EXPIRATION_SECONDS = 1 << 32
# boundObjectRef kind -> (resource, namespaced)
_BINDABLE = {"Pod": ("pods", True), "Secret": ("secrets", True), "Node": ("nodes", False)}


def _mapping(value) -> dict:
    return value if isinstance(value, dict) else {}


def _validate(spec: dict) -> list:
    """``ValidateTokenRequest``: 10 minutes ≤ expirationSeconds ≤ 2^32."""
    exp = spec.get("expirationSeconds")
    errs = []
    if exp < MIN_EXPIRATION_SECONDS:
        errs.append(errors.invalid("spec.expirationSeconds", exp,
                                   "may not specify a duration less than 10 minutes"))
    if exp > MAX_EXPIRATION_SECONDS:
        errs.append(errors.invalid("spec.expirationSeconds", exp,
                                   "may not specify a duration larger than 2^32 seconds"))
    return errs


def _get(stores, resource: str, namespace: str, name: str) -> dict:
    store = stores.store("", "v1", resource)
    return orjson.loads(store.get(namespace, name))


def _bound_objects(stores, namespace: str, sa_name: str, ref: dict) -> dict:
    """The objects a ``boundObjectRef`` names: {"pod"|"secret"|"node": obj} (a pod on a
    node also brings its node, when that exists)."""
    api_version, kind = ref.get("apiVersion") or "", ref.get("kind") or ""
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    version = api_version.rpartition("/")[2]
    if group or kind not in _BINDABLE:
        raise errors.BadRequest(f"cannot bind token to object of type {group}/{version}, "
                                f"Kind={kind}")
    resource, namespaced = _BINDABLE[kind]
    obj = _get(stores, resource, namespace if namespaced else "", ref.get("name") or "")
    uid = (obj.get("metadata") or {}).get("uid", "")
    if kind == "Pod" and (_mapping(obj.get("spec")).get("serviceAccountName") or "") != sa_name:
        raise errors.BadRequest(f'cannot bind token for serviceaccount "{sa_name}" to pod '
                                "running with different serviceaccount name.")
    if ref.get("uid") and ref["uid"] != uid:
        raise errors.Conflict.for_object(
            kind, "", ref.get("name") or "",
            f"the UID in the bound object reference ({ref['uid']}) does not match the UID in "
            "record. The object might have been deleted and then recreated")
    found = {kind.lower(): obj}
    node_name = _mapping(obj.get("spec")).get("nodeName") if kind == "Pod" else None
    if node_name:
        try:
            found["node"] = _get(stores, "nodes", "", node_name)
        except errors.NotFound:
            pass
    return found


def create_token(issuer, store, namespace: str, name: str, body: dict) -> tuple[int, dict]:
    """Answer a TokenRequest for ServiceAccount ``namespace/name`` (``store`` is the
    ServiceAccount Store, ``issuer`` the server's token Issuer): 201 with
    ``status{token, expirationTimestamp}``."""
    if body.get("kind") and body["kind"] != KIND:
        raise errors.BadRequest(f'the kind in the data ({body["kind"]}) does not match the '
                                f"expected kind ({KIND})")
    meta = dict(_mapping(body.get("metadata")))
    if meta.get("namespace") and meta["namespace"] != namespace:
        raise errors.BadRequest("the namespace of the provided object does not match the "
                                "namespace sent on the request")
    meta["namespace"] = namespace
    meta.setdefault("creationTimestamp", None)
    spec = dict(_mapping(body.get("spec")))
    if spec.get("expirationSeconds") is None:
        spec["expirationSeconds"] = DEFAULT_EXPIRATION_SECONDS
    if not isinstance(spec["expirationSeconds"], int) or isinstance(spec["expirationSeconds"], bool):
        raise errors.BadRequest("spec.expirationSeconds must be an integer")
    errs = _validate(spec)
    if errs:
        raise errors.Invalid.for_object(KIND, GROUP, "", errs)

    service_account = orjson.loads(store.get(namespace, name))
    ref = spec.get("boundObjectRef")
    bound = _bound_objects(store.stores, namespace, name, ref) if isinstance(ref, dict) else {}
    try:
        private_key = issuer.private_key
    except (OSError, ValueError) as exc:
        raise errors.InternalError(f"failed to generate token: {exc}") from None
    if not spec.get("audiences"):
        spec["audiences"] = issuer.default_audiences
    if issuer.max_expiration_seconds and spec["expirationSeconds"] > issuer.max_expiration_seconds:
        spec["expirationSeconds"] = issuer.max_expiration_seconds
    spec.setdefault("boundObjectRef", None)

    claims = tokens.bound_claims(issuer.issuer, service_account, spec["audiences"],
                                 spec["expirationSeconds"], pod=bound.get("pod"),
                                 secret=bound.get("secret"), node=bound.get("node"))
    token = tokens.sign(claims, private_key)
    expires = datetime.fromtimestamp(claims["exp"], timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return 201, {"kind": KIND, "apiVersion": f"{GROUP}/{VERSION}", "metadata": meta,
                 "spec": spec, "status": {"token": token, "expirationTimestamp": expires}}
