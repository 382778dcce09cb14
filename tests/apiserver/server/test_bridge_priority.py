"""Leases run on the bridge's priority threads (apiserver/server/bridge.py), everything else
on the request pool, so a queue of workload requests never delays a lease renewal."""
import asyncio
import threading

from django.http import HttpResponse

from apiserver.filters.request_info import parse_request_info
from apiserver.server.bridge import DjangoBridge


def _call(bridge, method, path):
    scope = {"type": "http", "method": method, "path": path, "query_string": b"",
             "headers": [], "k8s.request_info": parse_request_info(method, path, "")}
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"{}"}

    async def send(message):
        sent.append(message)
    asyncio.run(bridge(scope, receive, send))
    return sent


def test_leases_take_the_priority_lane_while_the_request_pool_is_busy():
    bridge = DjangoBridge(threads=1)
    seen = []
    release = threading.Event()

    def run(scope, body):
        seen.append((scope["path"], threading.current_thread().name))
        if "configmaps" in scope["path"]:
            release.wait(5)                 # the request pool's only thread stays busy
        return HttpResponse(b"ok", content_type="text/plain")
    bridge._run = run
    busy = threading.Thread(target=_call, args=(bridge, "POST",
                                                "/api/v1/namespaces/d/configmaps"))
    busy.start()
    while not seen:
        threading.Event().wait(0.01)
    lease = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/node-1"
    sent = _call(bridge, "PUT", lease)       # answered although the pool is occupied
    release.set()
    busy.join(5)
    assert sent[0]["status"] == 200
    names = dict(seen)
    assert names[lease].startswith("request-priority")
    assert names["/api/v1/namespaces/d/configmaps"].startswith("request_")
