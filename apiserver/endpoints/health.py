"""/version, /healthz, /livez, /readyz (with ?verbose), as kube-apiserver answers them."""
from __future__ import annotations

import orjson
from django.db import connection
from django.http import HttpResponse
from rest_framework.views import APIView

# the kubectl dispatcher on these machines picks the kubectl matching major/minor
VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0+django",
           "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
           "buildDate": "2026-11-25T00:00:00Z", "goVersion": "go1.23.0", "compiler": "gc",
           "platform": "linux/amd64"}


class VersionView(APIView):
    def get(self, request):
        return HttpResponse(orjson.dumps(VERSION, option=orjson.OPT_INDENT_2),
                            content_type="application/json")


def _check_database() -> str | None:
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
        return None
    except Exception as exc:  # report, never raise: this is a health endpoint
        return type(exc).__name__


class HealthView(APIView):
    """``ping`` and ``etcd`` (our database) checks; ``?verbose`` lists them."""

    kind = "readyz"

    def get(self, request, check: str = ""):
        results = {"ping": None, "etcd": _check_database()}
        if check:
            if check not in results:
                return HttpResponse("404 page not found\n", status=404, content_type="text/plain")
            failed = results[check]
            return HttpResponse("ok" if not failed else f"internal server error: {failed}",
                                status=200 if not failed else 500, content_type="text/plain")
        failed = [name for name, err in results.items() if err]
        if "verbose" in request.GET:
            lines = [f"[{'-' if results[n] else '+'}]{n} {'failed' if results[n] else 'ok'}"
                     for n in results]
            lines.append(f"{self.kind} check {'failed' if failed else 'passed'}")
            return HttpResponse("\n".join(lines) + "\n", status=500 if failed else 200,
                                content_type="text/plain")
        return HttpResponse("ok" if not failed else f"{self.kind} check failed",
                            status=500 if failed else 200, content_type="text/plain")
