"""/openapi/v3 (root and one document per group-version) and /openapi/v2.

Documents are addressed by content hash, so a client may cache them forever: the answer
for a matching ``?hash=`` is ``immutable``; a stale hash is redirected to the current one
(kubernetes/kube-openapi:pkg/handler3/handler.go).  kubectl asks for /openapi/v2 only as
protobuf, which this server does not serve: a 404 makes it use v3
(kubernetes/kubectl:pkg/util/openapi, the v3-first lookup of ``kubectl explain``).  The
documents are the serving server's (``scope["k8s.server"].openapi``): the head's merge every
server's kinds, as upstream's aggregator merges its delegates' specs.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

from django.http import HttpResponse
from rest_framework.views import APIView

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
        raise errors.NotFound("the server could not find the requested resource")
