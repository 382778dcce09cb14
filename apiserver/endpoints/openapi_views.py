"""/openapi/v3 (root and one document per group-version) and /openapi/v2.

Documents are addressed by content hash, so a client may cache them forever: the answer
for a matching ``?hash=`` is ``immutable``; a stale hash is redirected to the current one
(kube-openapi ``handler3``).  /openapi/v2 is only ever requested as protobuf, which we do
not serve: 404 makes kubectl use v3 (API-CONTRACT.md §1.3).
"""
from __future__ import annotations

import functools
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

from django.http import HttpResponse
from rest_framework.views import APIView

from apiserver.endpoints.exceptions import as_api_error, status_response
from apiserver.openapi.documents import OpenAPIDocuments
from apiserver.runtime import errors
from apiserver.runtime.scheme import scheme


@functools.lru_cache(maxsize=1)
def documents() -> OpenAPIDocuments:
    return OpenAPIDocuments(scheme)


class _Base(APIView):
    def handle_exception(self, exc):
        return status_response(as_api_error(exc))


class OpenAPIRootView(_Base):
    def get(self, request):
        return HttpResponse(documents().root(), content_type="application/json")


class OpenAPIDocumentView(_Base):
    def get(self, request, path: str):
        found = documents().document(path.strip("/"))
        if found is None:
            raise errors.NotFound("the server could not find the requested resource")
        body, digest = found
        asked = request.GET.get("hash")
        etag = f'"{digest}"'
        if asked and asked != digest:
            resp = HttpResponse(status=301)
            resp.headers["Location"] = f"/openapi/v3/{path.strip('/')}?hash={digest}"
            return resp
        headers = {"ETag": etag, "Vary": "Accept"}
        if asked:
            expires = datetime.now(timezone.utc) + timedelta(days=365)
            headers["Cache-Control"] = "public, immutable"
            headers["Expires"] = format_datetime(expires, usegmt=True)
        else:
            headers["Cache-Control"] = "no-cache, private"
        if request.META.get("HTTP_IF_NONE_MATCH") == etag:
            return HttpResponse(status=304, headers=headers, content_type="application/json")
        return HttpResponse(body, content_type="application/json", headers=headers)


class OpenAPIV2View(_Base):
    def get(self, request):
        raise errors.NotFound("the server could not find the requested resource")
