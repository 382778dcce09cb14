"""apiserver_request_total and /metrics (apiserver/filters/metrics.py), around a tiny ASGI
app, with upstream's CleanVerb and CleanScope labels."""
import asyncio

import pytest

from apiserver.filters.metrics import RequestMetricsFilter
from apiserver.filters.request_info import parse_request_info


def app_answering(status: int):
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})
    return app


def call(flt, method, path, query="", content_type=b"application/json"):
    scope = {"type": "http", "method": method, "path": path,
             "query_string": query.encode(), "headers": [(b"content-type", content_type)],
             "k8s.request_info": parse_request_info(method, path, query)}
    sent = []

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        sent.append(message)
    asyncio.run(flt(scope, receive, send))
    return sent


@pytest.mark.parametrize("method,path,query,ctype,verb,scope", [
    ("GET", "/api/v1/namespaces/d/pods", "", b"", "LIST", "namespace"),
    ("GET", "/api/v1/pods", "watch=true", b"", "WATCH", "cluster"),
    ("GET", "/api/v1/namespaces/d/pods/p", "", b"", "GET", "resource"),
    ("POST", "/api/v1/namespaces/d/pods", "", b"application/json", "POST", "resource"),
    ("PATCH", "/api/v1/namespaces/d/pods/p", "", b"application/apply-patch+yaml", "APPLY",
     "resource"),
    ("GET", "/api/v1/namespaces/d/pods/p/log", "", b"", "GET", "resource"),
    ("POST", "/api/v1/namespaces/d/pods/p/exec", "", b"", "CONNECT", "resource"),
    ("GET", "/version", "", b"", "GET", ""),
])
def test_labels_follow_upstreams_clean_verb_and_scope(method, path, query, ctype, verb, scope):
    flt = RequestMetricsFilter(app_answering(200))
    call(flt, method, path, query, ctype)
    ((key, n),) = flt.counts.items()
    assert (key[0], key[6], key[7], n) == (verb, scope, "200", 1)


def test_metrics_text_counts_codes_apart():
    flt = RequestMetricsFilter(app_answering(201))
    for _ in range(3):
        call(flt, "POST", "/api/v1/namespaces/d/configmaps", "dryRun=All")
    flt.app = app_answering(409)
    call(flt, "POST", "/api/v1/namespaces/d/configmaps")
    sent = call(flt, "GET", "/metrics")
    assert sent[0]["status"] == 200
    assert dict(sent[0]["headers"])[b"content-type"].startswith(b"text/plain; version=0.0.4")
    body = sent[1]["body"].decode()
    assert body.startswith("# HELP apiserver_request_total [STABLE] ")
    assert ('apiserver_request_total{code="201",component="apiserver",dry_run="All",group="",'
            'resource="configmaps",scope="resource",subresource="",verb="POST",version="v1"} 3'
            ) in body.splitlines()
    assert any(line.startswith('apiserver_request_total{code="409"') and line.endswith(" 1")
               for line in body.splitlines())
    assert "/metrics" not in body             # the scrape itself is not a counted request
