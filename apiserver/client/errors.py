"""``ApiError``: a failed API call as the server's ``Status`` describes it, like client-go's
``StatusError`` (kubernetes/apimachinery:pkg/api/errors/errors.go).

Raised by ``AsyncClient`` for any HTTP status >= 400, and by ``watch`` for an ``ERROR`` event
(whose object is a Status, e.g. 410 ``Expired``).  Standard library + orjson only.
"""
from __future__ import annotations

import orjson


class ApiError(Exception):
    """A non-2xx answer (or a watch ERROR event): HTTP ``status``, Status ``reason`` and
    ``message``, and ``body`` (the decoded Status dict, or the raw bytes)."""

    def __init__(self, status: int, reason: str, message: str, body=None, headers=None):
        super().__init__(f"{status} {reason}: {message}")
        self.status, self.reason, self.message = status, reason, message
        self.body, self.headers = body, headers or {}

    @property
    def code(self) -> int:
        return self.status

    @property
    def retry_after(self) -> float | None:
        value = self.headers.get("retry-after")
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None

    @classmethod
    def from_status(cls, status: dict, default_code: int = 500) -> "ApiError":
        """From a ``Status`` object (e.g. the object of a watch ERROR event)."""
        return cls(int(status.get("code") or default_code), status.get("reason") or "Unknown",
                   status.get("message") or "", status)

    @classmethod
    def from_response(cls, status: int, phrase: str, body: bytes, headers=None) -> "ApiError":
        try:
            doc = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            doc = None
        if isinstance(doc, dict) and doc.get("kind") == "Status":
            return cls(status, doc.get("reason") or phrase, doc.get("message") or "", doc, headers)
        return cls(status, phrase or "Unknown", body.decode("utf-8", "replace")[:2000], body,
                   headers)
