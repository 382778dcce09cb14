"""/openapi/v3 (root and one document per group-version) and /openapi/v2.

Documents are addressed by content hash, so a client may cache them forever: the answer
for a matching ``?hash=`` is ``immutable``; a stale hash is redirected to the current one
(kubernetes/kube-openapi:pkg/handler3/handler.go).  The v3 documents are the serving
server's (``scope["k8s.server"].openapi``): the head's merge every server's kinds, as
upstream's aggregator merges its delegates' specs.  /openapi/v2 (apiserver.openapi.v2) holds
the built-in kinds' definitions, as protobuf when asked for it (client-go asks for nothing
else) and JSON otherwise (kube-openapi pkg/handler/handler.go).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

from django.http import HttpResponse
from rest_framework.views import APIView

from apiserver.openapi.v2 import PROTOBUF, PROTOBUF_ACCEPT
from apiserver.runtime import errors


def documents(request):
    return request._request.scope["k8s.server"].openapi


class OpenAPIRootView(APIView):
    def get(self, request):
        return HttpResponse(documents(request).root(), content_type="application/json")


class OpenAPIDocumentView(APIView):
    def get(self, request, path: str):
        found = documents(request).document(path.strip("/"))
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


class OpenAPIV2View(APIView):
    def get(self, request):
        doc = request._request.scope["k8s.server"].openapi_v2
        headers = {"ETag": doc.etag, "Vary": "Accept", "Cache-Control": "no-cache, private"}
        if request.META.get("HTTP_IF_NONE_MATCH") == doc.etag:
            return HttpResponse(status=304, headers=headers)
        if PROTOBUF_ACCEPT in request.META.get("HTTP_ACCEPT", ""):
            return HttpResponse(doc.protobuf, content_type=PROTOBUF, headers=headers)
        return HttpResponse(doc.json, content_type="application/json", headers=headers)
