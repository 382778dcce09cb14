"""The one place errors become ``Status`` responses (DRF's exception handler)."""
from __future__ import annotations

import logging
import traceback

import orjson
from django.http import HttpResponse
from rest_framework import exceptions as drf

from apiserver.runtime import errors

log = logging.getLogger("apiserver.errors")


def status_response(err: errors.APIError) -> HttpResponse:
    resp = HttpResponse(orjson.dumps(err.to_status()), status=err.code,
                        content_type="application/json")
    for key, value in err.response_headers().items():
        resp.headers[key] = value
    return resp


def as_api_error(exc: Exception) -> errors.APIError:
    if isinstance(exc, errors.APIError):
        return exc
    if isinstance(exc, drf.MethodNotAllowed):
        return errors.MethodNotAllowed("the server does not allow this method on the requested resource")
    if isinstance(exc, drf.APIException):
        return errors.BadRequest(str(exc.detail))
    # Never a traceback to the client.  The log gets the exception type and where it was
    # raised, not its message or locals: those can carry request bodies (Secret data,
    # tokens), which must never reach a log.
    log.error("internal error: %s at %s", type(exc).__name__, _where(exc))
    return errors.InternalError("an error on the server has prevented the request from succeeding")


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    return " <- ".join(f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno} {f.name}"
                       for f in reversed(frames[-4:])) or "?"


def status_exception_handler(exc, context):
    """Every error a DRF view raises, as its Status.  The response is marked as logged so
    Django's request logger (``django.utils.log.log_response``) adds no "Internal Server
    Error: <path>" line for a 5xx: a typed error (a failed admission or conversion webhook,
    as upstream's 500s in responsewriters/status.go) is the API answering as designed, and
    an unexpected exception was already logged once by ``as_api_error``, without its
    message."""
    resp = status_response(as_api_error(exc))
    resp._has_been_logged = True
    return resp


def not_found_view(request, exception=None):
    return status_response(errors.NotFound("the server could not find the requested resource"))


def server_error_view(request):
    return status_response(errors.InternalError(
        "an error on the server has prevented the request from succeeding"))
