"""Converting custom resources between the versions of their definition.

Upstream: kubernetes/apiextensions-apiserver:pkg/apiserver/conversion/ (converter.go: the
``None`` strategy only rewrites ``apiVersion``; webhook_converter.go: the ``Webhook``
strategy sends the objects that are not in the desired version to the definition's
webhook in one ``ConversionReview`` and checks what comes back).  The review version is the
first of ``conversionReviewVersions`` this server speaks (v1, v1beta1).  A converted object
must keep its kind, name, namespace and uid and come back in the desired version; its
metadata is the original's except labels and annotations, which the webhook may change
(upstream ``restoreObjectMeta``).  Any failure is a 500 ``InternalError`` naming the input's
group, version and kind, as upstream's ``conversion webhook for … failed: …``.

May import: apiserver.runtime, apiserver.webhook_client.
"""
from __future__ import annotations

import copy
import re
import uuid

from apiserver import webhook_client
from apiserver.runtime import errors

REVIEW_VERSIONS = ("v1", "v1beta1")
GROUP = "apiextensions.k8s.io"
# metav1validation.ValidateLabels: qualified name keys, values of at most 63 characters
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
TOTAL_ANNOTATION_BYTES = 256 * 1024


def gvk_text(obj: dict) -> str:
    """Go's ``schema.GroupVersionKind.String()`` of an object's apiVersion and kind."""
    api_version = str(obj.get("apiVersion") or "")
    group, _, version = api_version.rpartition("/")
    return f"{group}/{version}, Kind={obj.get('kind', '')}" if group else \
        f"{version}, Kind={obj.get('kind', '')}"


class ConversionFailed(errors.APIError):
    """Upstream surfaces converter errors as a bare 500 Status with the converter's text:
    they are plain Go errors, which responsewriters/status.go (convertStorageErrorOrNot)
    renders with StatusReasonUnknown, i.e. no reason (kubectl: "Error from server: …")."""

    code, reason = 500, ""


class NoneConverter:
    """Strategy ``None``: the same fields under another apiVersion."""

    def convert(self, objs: list[dict], desired: str) -> list[dict]:
        for obj in objs:
            obj["apiVersion"] = desired
        return objs


class WebhookConverter:
    """Strategy ``Webhook`` for one definition; ``stores`` resolves service references."""

    def __init__(self, crd_name: str, webhook: dict, stores=None, *, timeout: float = 30):
        self.crd_name = crd_name
        self.client_config = (webhook or {}).get("clientConfig") or {}
        self.review_versions = list((webhook or {}).get("conversionReviewVersions") or ())
        self.stores = stores
        self.timeout = timeout
        self.pool = webhook_client.ConnectionPool()   # kept-alive, per definition

    def _review_version(self) -> str:
        for version in self.review_versions:
            if version in REVIEW_VERSIONS:
                return version
        raise ValueError("no supported conversion review versions")

    def convert(self, objs: list[dict], desired: str) -> list[dict]:
        """``objs`` (modified in place and returned) in ``desired``; only those in another
        version go to the webhook, in one review."""
        todo = [i for i, o in enumerate(objs) if o.get("apiVersion") != desired]
        if not todo:
            return objs
        what = gvk_text(objs[todo[0]])
        try:
            review_version = self._review_version()
        except ValueError as exc:
            raise ConversionFailed(str(exc)) from None
        uid = str(uuid.uuid4())
        review = {"apiVersion": f"{GROUP}/{review_version}", "kind": "ConversionReview",
                  "request": {"uid": uid, "desiredAPIVersion": desired,
                              "objects": [objs[i] for i in todo]}}
        try:
            answer = webhook_client.post_json(self.client_config, review, self.stores,
                                              timeout=self.timeout, pool=self.pool)
            converted = _converted_objects(answer, review_version, uid)
        except (webhook_client.CallError, ValueError) as exc:
            raise ConversionFailed(f"conversion webhook for {what} failed: {exc}") from None
        if len(converted) != len(todo):
            raise ConversionFailed(f"conversion webhook for {what} returned {len(converted)} "
                                   f"objects, expected {len(todo)}")
        for index, (i, out) in enumerate(zip(todo, converted)):
            objs[i] = _checked(objs[i], out, desired, what, index)
        return objs


def _converted_objects(answer, review_version: str, uid: str) -> list:
    """The ``convertedObjects`` of a successful answer (upstream
    getConvertedObjectsFromResponse; v1beta1 answers were never checked for kind or uid)."""
    if not isinstance(answer, dict):
        raise ValueError("no response provided")
    if review_version == "v1":
        got = f"{answer.get('apiVersion', '')}, Kind={answer.get('kind', '')}"
        if (answer.get("apiVersion"), answer.get("kind")) != (f"{GROUP}/v1", "ConversionReview"):
            raise ValueError(f"expected webhook response of {GROUP}/v1, Kind=ConversionReview, "
                             f"got {got}")
    response = answer.get("response")
    if not isinstance(response, dict):
        raise ValueError("no response provided")
    if review_version == "v1" and response.get("uid") != uid:
        raise ValueError(f'expected response.uid="{uid}", got "{response.get("uid", "")}"')
    result = response.get("result") or {}
    if result.get("status") != "Success":
        if result.get("message"):
            raise ValueError(result["message"])
        raise ValueError(f"response.result.status was '{result.get('status', '')}', "
                         "not 'Success'")
    converted = response.get("convertedObjects")
    return list(converted) if isinstance(converted, list) else []


def _checked(original: dict, converted, desired: str, what: str, index: int) -> dict:
    """One converted object, validated, with the original's metadata back except its
    labels and annotations (upstream validateConvertedObject + restoreObjectMeta)."""
    prefix = f"conversion webhook for {what} returned invalid converted object at index {index}"
    if not isinstance(converted, dict):
        raise ConversionFailed(f"{prefix}: expected an object")
    if converted.get("apiVersion") != desired:
        raise ConversionFailed(f"{prefix}: invalid groupVersion (expected {desired}, "
                               f"received {converted.get('apiVersion', '')})")
    if converted.get("kind") != original.get("kind"):
        raise ConversionFailed(f"{prefix}: invalid kind (expected {original.get('kind')}, "
                               f"received {converted.get('kind', '')})")
    meta_in, meta_out = original.get("metadata") or {}, converted.get("metadata")
    if not isinstance(meta_out, dict):
        raise ConversionFailed(f"conversion webhook for {what} returned invalid metadata in "
                               f"object at index {index}: missing metadata in converted object")
    for field_name, label in (("name", "name"), ("namespace", "namespace"), ("uid", "UID")):
        if (meta_in.get(field_name) or "") != (meta_out.get(field_name) or ""):
            raise ConversionFailed(f"{prefix}: must have the same {label}: "
                                   f"{meta_in.get(field_name) or ''} != "
                                   f"{meta_out.get(field_name) or ''}")
    meta = copy.deepcopy(meta_in)
    for key in ("labels", "annotations"):
        value = meta_out.get(key)
        if value is None:
            meta.pop(key, None)
            continue
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise ConversionFailed(f"conversion webhook for {what} returned invalid metadata "
                                   f"in object at index {index}: metadata.{key} must be a map "
                                   "of strings")
        if value != (meta_in.get(key) or {}):
            problem = _meta_problem(key, value)
            if problem:
                raise ConversionFailed(f"conversion webhook for {what} returned invalid "
                                       f"metadata in object at index {index}: {problem}")
        meta[key] = value
    converted["metadata"] = meta
    return converted


def _meta_problem(key: str, value: dict) -> str:
    """The first reason labels or annotations a webhook changed are not valid ones."""
    if key == "annotations":
        if sum(len(k) + len(v) for k, v in value.items()) > TOTAL_ANNOTATION_BYTES:
            return "metadata.annotation: Too long: must have at most 262144 bytes"
        return ""
    for k, v in value.items():
        if len(v) > 63 or not _LABEL_VALUE.match(v):
            return (f'metadata.labels: Invalid value: "{v}": a valid label must be an empty '
                    "string or consist of alphanumeric characters, '-', '_' or '.', and must "
                    "start and end with an alphanumeric character")
    return ""


def converter_for(crd: dict, stores=None):
    """The converter a definition's ``spec.conversion`` asks for."""
    conversion = ((crd.get("spec") or {}).get("conversion")) or {}
    if conversion.get("strategy") == "Webhook":
        return WebhookConverter((crd.get("metadata") or {}).get("name", ""),
                                conversion.get("webhook") or {}, stores)
    return NoneConverter()
