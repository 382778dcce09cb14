"""The Available condition of service-backed APIServices (upstream's
``APIServiceAvailabilityController``, kube-aggregator pkg/controllers/status/remote/
remote_available_controller.go).

Each pass checks every APIService with a ``service``: the Service exists (else
``ServiceNotFound``), listens on the port (``ServicePortError``), has a ready endpoint
(``MissingEndpoints``), and its backend answers ``GET /apis/GROUP/VERSION`` with a 2xx within
the timeout, asked as ``system:kube-aggregator`` in ``system:masters`` through the proxy
client certificate as upstream does (else ``FailedDiscoveryCheck``); all of it is ``Passed``.
The condition is written through the status subresource only when it changes (its
lastTransitionTime then), so a steady state writes nothing.  Runs in the server process like
the other in-process controllers: a pass follows local commits and polls every second, but a
backend is asked again only when its APIService, Service or Endpoints changed, or 30 s
after its last check (upstream's resync); a failed check is retried sooner, after 1 s
doubling up to those 30 s, as upstream requeues a failure rate-limited (so a backend that
starts just after its APIService is registered is Available within a second or two).
"""
from __future__ import annotations

import http.client
import logging
import time

import orjson

from apiserver.registry.context import system_context
from apiserver.registry.meta import now_rfc3339
from apiserver.runtime import errors
from resources.controllers.base import PollingController

from .apiservices import GROUP, available
from .proxying import AGGREGATOR_USER, backend_get
from .resolver import ResolveError
from .transport import ProxyIdentity, tls_context

log = logging.getLogger(__name__)

MANAGER = "kube-apiserver-availability"
CHECKER = AGGREGATOR_USER
CHECK_SECONDS = 30.0


def check(stores, obj: dict, identity: ProxyIdentity) -> tuple[str, str, str]:
    """(status, reason, message) of the Available condition ``obj`` should carry."""
    spec = obj["spec"]
    svc = spec["service"]
    path = f"/apis/{spec.get('group')}/{spec.get('version')}"
    try:
        status, _ = backend_get(stores, tls_context(spec, identity), obj, path, CHECKER)
    except ResolveError as exc:
        return "False", exc.reason, exc.message
    except (OSError, http.client.HTTPException, ValueError) as exc:
        where = f"https://{svc.get('name')}.{svc.get('namespace')}.svc:{svc.get('port') or 443}{path}"
        detail = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or \
            type(exc).__name__
        return "False", "FailedDiscoveryCheck", f"failing or missing response from {where}: {detail}"
    if not 200 <= status < 300:
        where = f"https://{svc.get('name')}.{svc.get('namespace')}.svc:{svc.get('port') or 443}{path}"
        return ("False", "FailedDiscoveryCheck",
                f"failing or missing response from {where}: bad status from {where}: {status}")
    return "True", "Passed", "all checks passed"


def _with_condition(current: dict, want: tuple[str, str, str]) -> dict:
    status = current.setdefault("status", {})
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != "Available"]
    conditions.append({"type": "Available", "status": want[0], "reason": want[1],
                       "message": want[2], "lastTransitionTime": now_rfc3339()})
    status["conditions"] = conditions
    return current


class AvailabilityController(PollingController):
    name = "apiservice-availability"

    def __init__(self, stores, identity: ProxyIdentity, *, poll_seconds: float = 1.0,
                 check_seconds: float = CHECK_SECONDS):
        self.stores = stores
        self.identity = identity
        self.check_seconds = check_seconds
        self.store = stores.store(GROUP, "v1", "apiservices")
        self._checked: dict = {}     # name -> (what the check depended on, when)
        self._retry: dict = {}       # name -> seconds until a failed check is tried again
        super().__init__(poll_seconds=poll_seconds)

    def _inputs(self, obj: dict) -> tuple:
        """The revisions a check depends on: the APIService, its Service and Endpoints."""
        svc = obj["spec"]["service"]
        ns, name = svc.get("namespace") or "", svc.get("name") or ""
        out = [obj["metadata"].get("resourceVersion")]
        for resource in ("services", "endpoints"):
            store = self.stores.store("", "v1", resource)
            found = store.storage.get(store.resource, ns, name)
            out.append(found[1] if found else None)
        return tuple(out)

    def _due(self, obj: dict) -> bool:
        """Re-check when what it depends on changed, or CHECK_SECONDS after the last."""
        name = obj["metadata"]["name"]
        inputs = self._inputs(obj)
        last = self._checked.get(name)
        now = time.monotonic()
        wait = self._retry.get(name, self.check_seconds)
        if last is not None and last[0] == inputs and now - last[1] < wait:
            return False
        self._checked[name] = (inputs, now)
        return True

    def sync(self) -> int:
        ctx = system_context(MANAGER, self.stores).for_subresource("status")
        done = 0
        for doc in self.store.list(None)["items"]:
            obj = orjson.loads(doc)
            if not isinstance((obj.get("spec") or {}).get("service"), dict) or \
                    not self._due(obj):
                continue
            want = check(self.stores, obj, self.identity)
            name = obj["metadata"]["name"]
            if want[0] == "True":
                self._retry.pop(name, None)
            else:
                self._retry[name] = min(self._retry.get(name, 0.5) * 2, self.check_seconds)
            have = available(obj) or {}
            if (have.get("status"), have.get("reason"), have.get("message")) == want:
                continue
            try:
                self.store.guaranteed_update(None, obj["metadata"]["name"],
                                             lambda c, w=want: _with_condition(c, w), ctx)
                done += 1
            except (errors.NotFound, errors.Conflict):
                pass
        return done


def start_availability(hook) -> None:
    """Post-start hook: check now, then every CHECK_SECONDS and after local commits."""
    o = hook.options
    identity = ProxyIdentity(getattr(o, "proxy_client_cert_file", ""),
                             getattr(o, "proxy_client_key_file", ""))
    controller = AvailabilityController(hook.stores, identity)
    try:
        controller.sync()
    except errors.APIError as exc:
        log.error("apiservice availability: %s", exc)
    controller.start(hook.stop, storages=[controller.store.storage])
