"""Typed API errors, rendered as a ``Status`` exactly once at the edge.

Everything below the endpoint layer raises one of these; the DRF exception handler
(``apiserver.endpoints.exceptions``) and the ASGI filters turn them into the JSON
``Status`` body upstream clients parse.  Reasons, codes and message formats follow
k8s.io/apimachinery ``pkg/api/errors/errors.go``.

May import: the standard library only.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Cause:
    """One ``StatusCause``; ``reason`` is the wire key (upstream serialises ``Type`` as ``reason``)."""

    reason: str
    message: str
    field: str = ""

    def to_dict(self) -> dict:
        # every StatusCause field is omitempty upstream
        out = {"reason": self.reason, "message": self.message} if self.reason else \
            {"message": self.message}
        if self.field:
            out["field"] = self.field
        return out


# StatusDetails' fields in declaration order (causes and retryAfterSeconds come last)
DETAIL_ORDER = ("name", "group", "kind", "uid")


class APIError(Exception):
    """Base of every error that becomes a ``Status``.  Subclasses fix ``code`` and ``reason``."""

    code = 500
    reason = "InternalError"

    def __init__(self, message: str, *, details: dict | None = None,
                 causes: list[Cause] | None = None, retry_after: int | None = None,
                 headers: dict | None = None):
        super().__init__(message)
        self.message = message
        self.details = dict(details or {})
        self.causes = list(causes or [])
        self.retry_after = retry_after
        self.headers = dict(headers or {})
        self.list_meta: dict = {}        # Status.metadata (ListMeta), e.g. a fresh continue


    def to_status(self) -> dict:
        """The ``Status`` body, keys in Go's struct order (TypeMeta, ListMeta, status,
        message, reason, details, code; details: name, group, kind, uid, causes,
        retryAfterSeconds), as kubernetes/apimachinery:pkg/apis/meta/v1/types.go declares
        them: clients' tests compare the text."""
        status = {"kind": "Status", "apiVersion": "v1", "metadata": dict(self.list_meta),
                  "status": "Failure", "message": self.message}
        if self.reason:
            status["reason"] = self.reason
        details = {k: self.details[k] for k in DETAIL_ORDER if k in self.details}
        details.update((k, v) for k, v in self.details.items() if k not in details)
        if self.causes:
            details["causes"] = [c.to_dict() for c in self.causes]
        if self.retry_after is not None:
            details["retryAfterSeconds"] = self.retry_after
        if details:
            status["details"] = details
        status["code"] = self.code
        return status

    def response_headers(self) -> dict:
        headers = dict(self.headers)
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        return headers


def _qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def _details(resource: str, group: str, name: str) -> dict:
    d = {"kind": resource}
    if name:
        d["name"] = name
    if group:
        d["group"] = group
    return d


class BadRequest(APIError):
    code, reason = 400, "BadRequest"


class Unauthorized(APIError):
    code, reason = 401, "Unauthorized"

    def __init__(self, message: str = "Unauthorized", **kw):
        super().__init__(message, **kw)


class Forbidden(APIError):
    code, reason = 403, "Forbidden"


class NotFound(APIError):
    code, reason = 404, "NotFound"

    @classmethod
    def for_object(cls, resource: str, group: str, name: str) -> "NotFound":
        return cls(f'{_qualified(resource, group)} "{name}" not found',
                   details=_details(resource, group, name))


class MethodNotAllowed(APIError):
    code, reason = 405, "MethodNotAllowed"


class NotAcceptable(APIError):
    code, reason = 406, "NotAcceptable"


class AlreadyExists(APIError):
    code, reason = 409, "AlreadyExists"

    @classmethod
    def for_object(cls, resource: str, group: str, name: str) -> "AlreadyExists":
        return cls(f'{_qualified(resource, group)} "{name}" already exists',
                   details=_details(resource, group, name))


class Conflict(APIError):
    code, reason = 409, "Conflict"

    @classmethod
    def for_object(cls, resource: str, group: str, name: str, why: str) -> "Conflict":
        return cls(f'Operation cannot be fulfilled on {_qualified(resource, group)} "{name}": {why}',
                   details=_details(resource, group, name))

    @classmethod
    def stale(cls, resource: str, group: str, name: str) -> "Conflict":
        return cls.for_object(resource, group, name,
                              "the object has been modified; please apply your changes "
                              "to the latest version and try again")


class Gone(APIError):
    code, reason = 410, "Gone"


class Expired(APIError):
    code, reason = 410, "Expired"


class RequestEntityTooLarge(APIError):
    code, reason = 413, "RequestEntityTooLarge"


class UnsupportedMediaType(APIError):
    code, reason = 415, "UnsupportedMediaType"


class Invalid(APIError):
    """422 with one cause per field error; ``kind`` in details is the Kind, not the resource."""

    code, reason = 422, "Invalid"

    @classmethod
    def for_object(cls, kind: str, group: str, name: str, errors: list) -> "Invalid":
        # upstream: errors.NewInvalid -> `Pod "web" is invalid: [a, b]` (brackets only for >1)
        texts = [e.error_text() for e in errors]
        joined = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
        return cls(f'{_qualified(kind, group)} "{name}" is invalid: {joined}',
                   details={**_details(kind, group, name)},
                   causes=[e.to_cause() for e in errors])


class TooManyRequests(APIError):
    code, reason = 429, "TooManyRequests"


class InternalError(APIError):
    code, reason = 500, "InternalError"


class ServiceUnavailable(APIError):
    code, reason = 503, "ServiceUnavailable"


class Timeout(APIError):
    code, reason = 504, "Timeout"


@dataclass
class FieldError:
    """One validation failure at a JSON path (``spec.containers[0].name``).

    ``type`` is the upstream ``field.ErrorType`` reason (``FieldValueRequired`` …); ``detail``
    is the human text.  See k8s.io/apimachinery ``pkg/util/validation/field/errors.go``.
    """

    type: str
    field: str
    value: object = None
    detail: str = ""
    has_value: bool = field(default=True, repr=False)

    _TEXT = {
        "FieldValueRequired": "Required value",
        "FieldValueInvalid": "Invalid value",
        "FieldValueNotSupported": "Unsupported value",
        "FieldValueDuplicate": "Duplicate value",
        "FieldValueForbidden": "Forbidden",
        "FieldValueTooLong": "Too long",
        "FieldValueTooMany": "Too many",
        "FieldValueNotFound": "Not found",
        "InternalError": "Internal error",
        "FieldValueTypeInvalid": "Invalid value",
    }

    def _value_text(self) -> str:
        v = self.value
        if isinstance(v, str):
            return '"' + v + '"'
        if isinstance(v, bool):
            return "true" if v else "false"
        if v is None:
            return "null"
        return str(v)

    def error_text(self) -> str:
        head = self._TEXT.get(self.type, self.type)
        text = f"{self.field}: {head}" if self.field else head
        if self.type in ("FieldValueInvalid", "FieldValueNotSupported", "FieldValueDuplicate",
                         "FieldValueNotFound", "FieldValueTypeInvalid") and self.has_value:
            text += ": " + self._value_text()
        elif self.type == "FieldValueTooMany" and self.has_value and self.value is not None:
            # upstream's TooMany carries the actual quantity as its value: "Too many: 3: …"
            text += ": " + self._value_text()
        if self.detail:
            text += ": " + self.detail
        return text

    def to_cause(self) -> Cause:
        msg = self.error_text()
        if self.field and msg.startswith(self.field + ": "):
            msg = msg[len(self.field) + 2:]
        return Cause(self.type, msg, self.field)


def required(path: str, detail: str = "") -> FieldError:
    return FieldError("FieldValueRequired", path, None, detail, has_value=False)


def invalid(path: str, value, detail: str = "") -> FieldError:
    return FieldError("FieldValueInvalid", path, value, detail)


def not_supported(path: str, value, allowed) -> FieldError:
    options = ", ".join('"' + str(a) + '"' for a in allowed)
    return FieldError("FieldValueNotSupported", path, value, f"supported values: {options}")


def duplicate(path: str, value) -> FieldError:
    return FieldError("FieldValueDuplicate", path, value)


def forbidden(path: str, detail: str) -> FieldError:
    return FieldError("FieldValueForbidden", path, None, detail, has_value=False)


def too_long(path: str, value, limit: int) -> FieldError:
    return FieldError("FieldValueTooLong", path, value,
                      f"must have at most {limit} bytes", has_value=False)


def immutable(path: str, value) -> FieldError:
    return FieldError("FieldValueInvalid", path, value, "field is immutable")
