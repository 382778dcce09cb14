"""Watch: the shared event stream and its HTTP transport.

``WatchStream`` turns a request into a sequence of wire lines: synthetic ADDED events for
the current state (resourceVersion unset or "0", or ``sendInitialEvents``), then every change
after the starting revision from the watch cache, with BOOKMARKs when asked for, an ERROR
event carrying a 410 Status when the history is compacted, and the end of the stream at
``timeoutSeconds`` (default: a random time in [1x, 2x) ``--min-request-timeout``).

The HTTP transport sends 200 and the headers at once, then one JSON object plus ``\\n`` per
event, each in its own chunk, with no keep-alive blank lines.  The websocket transport
(``watch_ws``) sends the same lines as text messages.

Watches run on the event loop; the only database work (the initial list) crosses to a
thread once.  Upstream: kubernetes/apiserver:pkg/endpoints/handlers/watch.go and get.go.
The stream's knobs come from the config (:class:`WatchSettings`), the Store from the server
that routed the request (``scope["k8s.server"]``), the cache from the process's Cacher.
"""
from __future__ import annotations

import asyncio
import functools
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import orjson
from django.db import close_old_connections

from apiserver.endpoints import negotiation
from apiserver.runtime import errors
from apiserver.runtime.selectors import parse_bool
from apiserver.endpoints.responses import send_status
from apiserver.storage.base import Compacted

BATCH_LINES = 64            # most events written to one watcher in one go
INITIAL_EVENTS_END = "k8s.io/initial-events-end"


@dataclass(frozen=True)
class WatchSettings:
    """``--min-request-timeout``, ``--watch-bookmark-interval``, ``--watch-send-timeout``."""

    min_request_timeout: float = 1800.0
    bookmark_seconds: float = 60.0
    send_timeout: float = 10.0


class WatchStream:
    """One watch request, transport-neutral.  ``prepare`` does everything that can still fail
    with an HTTP status; ``lines`` yields the stream."""

    def __init__(self, cache, store, info, accept: str, settings: WatchSettings,
                 setup_pool: ThreadPoolExecutor | None = None):
        self.cache, self.store, self.info = cache, store, info
        self.settings = settings
        self.setup_pool = setup_pool
        s = store.strategy
        q = info.q
        self.namespace = info.namespace if (s.namespaced and info.namespace) else None
        self.table = negotiation.wants_table(accept)
        self.include = negotiation.include_object(q("includeObject")) if self.table else ""
        self.rv_param = q("resourceVersion")
        self.bookmarks = _flag(q("allowWatchBookmarks"))
        self.send_initial = q("sendInitialEvents")
        match = q("resourceVersionMatch")
        if self.send_initial is not None:
            self.send_initial = parse_bool(self.send_initial)
            if match != "NotOlderThan":
                raise errors.Invalid.for_object("ListOptions", "meta.k8s.io", "", [errors.forbidden(
                    "resourceVersionMatch", "sendInitialEvents requires setting "
                    "resourceVersionMatch to NotOlderThan")])
            if not self.bookmarks:
                raise errors.Invalid.for_object("ListOptions", "meta.k8s.io", "", [errors.forbidden(
                    "allowWatchBookmarks", "sendInitialEvents requires setting "
                    "allowWatchBookmarks to true")])
        elif match not in (None, ""):
            raise errors.BadRequest("resourceVersionMatch: Forbidden: resourceVersionMatch is "
                                    "forbidden for watch unless sendInitialEvents is provided")
        timeout = q("timeoutSeconds")
        try:
            self.timeout = float(timeout) if timeout not in (None, "") else \
                settings.min_request_timeout * (1 + random.random())
        except ValueError:
            raise errors.BadRequest(f'invalid value for timeoutSeconds: "{timeout}"') from None
        self.label_selector, self.field_selector = q("labelSelector"), q("fieldSelector")
        self.predicate = store.matcher(self.label_selector, self.field_selector)
        if self.send_initial is None:
            self.initial = self.rv_param in (None, "", "0")
        else:
            self.initial = self.send_initial
        if not self.initial:
            try:
                self.after = int(self.rv_param or 0)
            except ValueError:
                raise errors.BadRequest(f'invalid resource version "{self.rv_param}"') from None
        self.watcher = None
        self.expired: errors.APIError | None = None
        self._headers_sent = False

    @property
    def content_type(self) -> str:
        return ("application/json;as=Table;v=v1;g=meta.k8s.io" if self.table
                else "application/json")

    async def prepare(self) -> None:
        """Initial list and subscription (errors here are plain HTTP answers)."""
        self.initial_docs: list[str] = []
        if self.initial:
            loop = asyncio.get_running_loop()
            page = await loop.run_in_executor(self.setup_pool, functools.partial(
                _list, self.store, self.namespace, self.label_selector, self.field_selector))
            self.initial_docs, self.after = page["items"], page["resourceVersion"]
        try:
            self.watcher = await self.cache.watch(self.store.resource, self.namespace,
                                                  self.after, self.predicate)
        except Compacted as exc:
            self.expired = errors.Expired(
                f"too old resource version: {exc.requested} ({exc.compacted})")

    def close(self) -> None:
        if self.watcher is not None:
            self.cache.unwatch(self.watcher)

    # ---- encoding -------------------------------------------------------------------------
    def _table_line(self, event_type: str, obj: dict) -> bytes:
        t = negotiation.table(self.store.strategy, [obj],
                              obj.get("metadata", {}).get("resourceVersion", ""),
                              include_headers=not self._headers_sent, include=self.include)
        self._headers_sent = True
        return orjson.dumps({"type": event_type, "object": t}) + b"\n"

    def _line(self, event_type: str, ev=None, doc: str | None = None) -> bytes:
        """One event as a JSON line (a one-row Table for Table watches)."""
        if self.table:
            return self._table_line(event_type, self.store.present(ev.obj) if ev is not None
                                    else orjson.loads(doc))
        if ev is not None:
            return self.store.event_line(event_type, ev)
        return b'{"type":"' + event_type.encode() + b'","object":' + doc.encode() + b"}\n"

    def _bookmark(self, rv: int, initial_end: bool = False) -> bytes:
        s = self.store.strategy
        meta = {"resourceVersion": str(rv)}
        if initial_end:
            meta["annotations"] = {INITIAL_EVENTS_END: "true"}
        return orjson.dumps({"type": "BOOKMARK", "object": {
            "kind": s.kind, "apiVersion": s.api_version(), "metadata": meta}}) + b"\n"

    # ---- the stream -----------------------------------------------------------------------
    async def lines(self):
        if self.expired is not None:
            yield orjson.dumps({"type": "ERROR", "object": self.expired.to_status()}) + b"\n"
            return
        for doc in self.initial_docs:
            yield self._line("ADDED", doc=doc)
        self.initial_docs = []
        if self.send_initial:
            yield self._bookmark(self.after, initial_end=True)
        w = self.watcher
        for kind, ev in w.backlog:
            yield self._line(kind, ev)
        w.backlog = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        while not w.closed or not w.queue.empty():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            if not w.queue.empty():
                item = w.queue.get_nowait()      # no timer when events are already waiting
            else:
                wait = min(remaining, self.settings.bookmark_seconds) if self.bookmarks else remaining
                try:
                    # asyncio.timeout, not wait_for: no extra Task per idle watcher
                    async with asyncio.timeout(wait):
                        item = await w.queue.get()
                except TimeoutError:
                    # A bookmark promises everything up to its revision was sent.  The timer
                    # can fire in the loop iteration that queued an event (get() is cancelled
                    # with the event still queued, cache.rv already past it): send it first.
                    if self.bookmarks and loop.time() < deadline and w.queue.empty():
                        yield self._bookmark(max(self.cache.rv, w.after))
                    continue
            if item is None:
                return
            # Events that are already queued leave together: one write (and one send timer)
            # for the batch instead of one per event.  Each is still its own JSON line.
            chunk = [self._line(*item)]
            while len(chunk) < BATCH_LINES and not w.queue.empty():
                item = w.queue.get_nowait()
                if item is None:
                    break
                chunk.append(self._line(*item))
            yield chunk[0] if len(chunk) == 1 else b"".join(chunk)
            if item is None or (w.closed and w.overflowed):
                return          # closed (too slow: the client resumes)


def _flag(value) -> bool:
    if value in (None, ""):
        return False
    try:
        return parse_bool(value)
    except errors.APIError:
        return False


def _list(store, namespace, label_selector, field_selector) -> dict:
    try:
        return store.list(namespace, label_selector=label_selector, field_selector=field_selector)
    finally:
        close_old_connections()


def resolve_store(server, info):
    """The Store a watch URL names on ``server``, or a 404/405 APIError."""
    store = server.store(info.api_group, info.api_version, info.resource)
    if store is None or info.url_name or info.subresource or "watch" not in store.strategy.verbs:
        if store is not None and info.url_name:
            # /watch/namespaces/ns/pods/name (legacy) is a field-selector watch upstream; we
            # only serve the collection form kubectl uses
            raise errors.MethodNotAllowed("watch of a single object by URL is not supported; "
                                          "use fieldSelector=metadata.name=<name>")
        raise errors.NotFound("the server could not find the requested resource")
    if not store.strategy.namespaced and info.namespace and info.resource != "namespaces":
        raise errors.NotFound("the server could not find the requested resource")
    return store


class HTTPWatch:
    """ASGI app for ``verb == "watch"`` HTTP requests; everything else goes to ``app``."""

    def __init__(self, app, cacher, settings: WatchSettings):
        self.app = app
        self.cacher = cacher
        self.settings = settings
        # initial lists run here, not on the watch cache's reader thread (it must keep tailing)
        self.setup_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="watch-setup")

    def __call__(self, scope, receive, send):
        info = scope.get("k8s.request_info")
        if scope["type"] != "http" or info is None or info.verb != "watch":
            return self.app(scope, receive, send)
        return self._serve(scope, receive, send, info)

    async def _serve(self, scope, receive, send, info):
        headers = dict(scope.get("headers") or ())
        accept = headers.get(b"accept", b"").decode("latin-1")
        try:
            cache = await self.cacher.get()
            store = resolve_store(scope["k8s.server"], info)
            stream = WatchStream(cache, store, info, accept, self.settings, self.setup_pool)
            await stream.prepare()
        except errors.APIError as err:
            return await send_status(send, err)
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", stream.content_type.encode()),
            (b"cache-control", b"no-cache, private")]})
        await send({"type": "http.response.body", "body": b"", "more_body": True})
        gone = asyncio.Event()

        async def watch_disconnect():
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    gone.set()
                    stream.close()
                    return
        listener = asyncio.create_task(watch_disconnect())
        try:
            async for line in stream.lines():
                if gone.is_set():
                    break
                # a peer that stops reading blocks send(); give up on it after SEND_TIMEOUT
                await asyncio.wait_for(send({"type": "http.response.body", "body": line,
                                             "more_body": True}), self.settings.send_timeout)
            if not gone.is_set():
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except (OSError, asyncio.TimeoutError):
            pass                        # the client went away, or stopped reading
        finally:
            listener.cancel()
            stream.close()
