"""The kubelet's streaming endpoints: routing, the request's options, and the pod and
container they name (upstream pkg/kubelet/server/server.go ``getContainerLogs``,
``getExec``, ``getAttach`` and ``getPortForward``, with the CRI streaming server of
pkg/kubelet/cri/streaming behind them).

Paths (``server.py`` has authenticated and authorized the request by then; all of them
are subresource ``proxy`` of the node):

* ``/containerLogs/{ns}/{pod}/{container}`` (GET): ``streaming_logs.py``;
* ``/exec/{ns}/{pod}[/{uid}]/{container}`` and ``/attach/…`` (GET or POST): a websocket
  (``streaming_ws.py``) or a SPDY/3.1 upgrade (``streaming_spdy.py``), the session itself in
  ``streaming_session.py``;
* ``/portForward/{ns}/{pod}[/{uid}]`` (GET or POST): websocket channels, SPDY tunnelled in
  a websocket, or a plain SPDY upgrade.

Query names are the kubelet's (the API server rewrites the public ones, upstream
pkg/registry/core/pod/strategy.go ``streamParams``): ``command`` repeated, ``input=1``,
``output=1``, ``error=1``, ``tty=1`` and ``port=a,b``; the public names (``stdin=true`` …,
``ports``) are accepted too, for a client that calls the kubelet directly.

Everything refused before a connection is upgraded is a plain-text answer with upstream's
status and message (``Refusal``); what fails after it travels on the protocol's error
channel as a ``Status``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import parse_qs

from . import status as st

log = logging.getLogger("workers.kubelet.streaming")

KINDS = {"containerLogs": (3, 3), "exec": (3, 4), "attach": (3, 4), "portForward": (2, 3)}
TEXT = b"text/plain; charset=utf-8"


def handles(path: str) -> bool:
    """Whether ``path`` is one of the streaming endpoints (a bare ``/exec`` is not)."""
    head, _, rest = path.lstrip("/").partition("/")
    return head in KINDS and bool(rest)


class Refusal(Exception):
    """A plain-text answer: ``message`` is the whole body (go-restful's ``WriteError``
    writes the text alone, Go's ``http.Error`` adds a newline: callers say which)."""

    def __init__(self, status: int, message: str, headers=()):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, tuple(headers)


@dataclass(frozen=True)
class Target:
    kind: str
    namespace: str
    pod: str
    uid: str = ""
    container: str = ""


def parse_path(path: str) -> Target | None:
    """The endpoint and the names in ``path``; None for a path no route matches."""
    kind, *parts = path.strip("/").split("/")
    low, high = KINDS.get(kind, (0, -1))
    if not low <= len(parts) <= high or not all(parts):
        return None
    if kind == "portForward":
        return Target(kind, parts[0], parts[1], parts[2] if len(parts) == 3 else "")
    uid = parts[2] if len(parts) == 4 else ""
    return Target(kind, parts[0], parts[1], uid, parts[-1])


def query(scope) -> dict[str, list[str]]:
    return parse_qs((scope.get("query_string") or b"").decode("latin-1"),
                    keep_blank_values=True)


def public_bool(values: list[str]) -> bool:
    """apimachinery pkg/runtime/conversion.go ``Convert_Slice_string_To_bool``: absent,
    ``0`` or ``false`` (any case) is false; anything else, the empty string included, true."""
    return bool(values) and values[0].lower() not in ("0", "false")


def flag(q: dict, kubelet_name: str, public_name: str) -> bool:
    """The kubelet compares its own names with ``"1"`` (cri/streaming/remotecommand
    httpstream.go ``NewOptions``); a public name is read as the API server reads it."""
    if (q.get(kubelet_name) or [""])[0] == "1":
        return True
    if kubelet_name == public_name:            # ``tty`` is both
        return (q.get(public_name) or [""])[0].lower() == "true"
    return public_bool(q.get(public_name) or [])


@dataclass(frozen=True)
class CommandOptions:
    stdin: bool
    stdout: bool
    stderr: bool
    tty: bool


def command_options(q: dict) -> CommandOptions:
    """exec/attach streams; stderr is dropped with a tty (its output is merged)."""
    tty = flag(q, "tty", "tty")
    stdin, stdout = flag(q, "input", "stdin"), flag(q, "output", "stdout")
    stderr = flag(q, "error", "stderr") and not tty
    if not (stdin or stdout or stderr):
        raise Refusal(400, "you must specify at least 1 of stdin, stdout, stderr")
    return CommandOptions(stdin, stdout, stderr, tty)


def _go_parse_error(text: str) -> str:
    return "value out of range" if text.isdigit() else "invalid syntax"


def forward_ports(q: dict) -> list[int]:
    """``port`` (``ports`` also read), each value a comma list (upstream
    cri/streaming/portforward/websocket.go ``NewV4Options``, with its messages)."""
    values = q.get("port") or q.get("ports") or []
    if not values:
        raise Refusal(400, 'query parameter "port" is required')
    out = []
    for value in values:
        if not value:
            raise Refusal(400, 'query parameter "port" cannot be empty')
        for p in value.split(","):
            port = int(p) if p.isdigit() else None
            if port is None or port > 65535:
                raise Refusal(400, f'unable to parse "{value}" as a port: strconv.ParseUint: '
                                   f'parsing "{p}": {_go_parse_error(p)}')
            if port < 1:
                raise Refusal(400, f'port "{value}" must be > 0')
            out.append(port)
    return out


def find_worker(host, namespace: str, name: str, uid: str = ""):
    """The pod worker of ``namespace/name`` (and ``uid`` when given) on this kubelet."""
    found = None
    for worker in list(host.workers.values()):
        meta = worker.pod.get("metadata") or {}
        if meta.get("namespace") == namespace and meta.get("name") == name:
            if uid and worker.uid != uid:
                continue
            if found is None or not worker.deleting.is_set():   # a replacement wins
                found = worker
    return found


def find_record(worker, container: str) -> st.ContainerRecord | None:
    """The container's record, init and ephemeral containers included (as the kubelet's
    pod spec lookup, kubecontainer.GetContainerSpec)."""
    return next((r for r in worker.containers + worker.init + worker.ephemeral
                 if r.name == container), None)


def header(scope, name: str) -> str:
    """One request header's values joined by commas (lower-case ``name``)."""
    raw = name.encode()
    return ", ".join(v.decode("latin-1") for k, v in scope.get("headers") or ()
                     if k.lower() == raw)


def header_tokens(scope, name: str) -> list[str]:
    """A comma-separated header's tokens across its lines, in order."""
    return [t.strip() for t in header(scope, name).split(",") if t.strip()]


def is_spdy_upgrade(scope) -> bool:
    """``Connection: Upgrade`` and ``Upgrade: SPDY/3.1`` (apimachinery
    pkg/util/httpstream/spdy/upgrade.go)."""
    return "upgrade" in header(scope, "connection").lower() and \
        "spdy/3.1" in header(scope, "upgrade").lower()


# -- Status objects (metav1.Status as json.Marshal writes it: no kind/apiVersion) --------

def success() -> dict:
    return {"metadata": {}, "status": "Success"}


def exit_failure(command: list[str], code: int) -> dict:
    """A command that exited non-zero: the runtime's error text (containerd's ``error
    executing command [argv], exit code N``) under the kubelet's NonZeroExitCode reason
    (cri/streaming/remotecommand/exec.go ``ServeExec``)."""
    err = f"error executing command [{' '.join(command)}], exit code {code}"
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: {err}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


def internal_error(message: str) -> dict:
    """apimachinery pkg/api/errors ``NewInternalError``."""
    return {"metadata": {}, "status": "Failure",
            "message": f"Internal error occurred: {message}", "reason": "InternalError",
            "details": {"causes": [{"message": message}]}, "code": 500}


# -- answers before an upgrade ------------------------------------------------------------

async def respond(scope, send, status: int, body: bytes, content_type: bytes = TEXT,
                  headers=()) -> None:
    """A complete plain response, also to a websocket handshake (ASGI's
    ``websocket.http.response`` extension: the client sees this status, not a 101)."""
    prefix = "websocket." if scope["type"] == "websocket" else ""
    extra = [(k.encode() if isinstance(k, str) else k, v.encode() if isinstance(v, str) else v)
             for k, v in headers]
    await send({"type": prefix + "http.response.start", "status": status,
                "headers": [(b"content-type", content_type),
                            (b"content-length", str(len(body)).encode()),
                            (b"x-content-type-options", b"nosniff"), *extra]})
    await send({"type": prefix + "http.response.body", "body": body})


def http_sender(scope, send):
    """``send`` for plain ``http.response.*`` messages whatever the scope (a websocket
    handshake answered with a status, for refusals made before routing)."""
    if scope["type"] != "websocket":
        return send

    async def over_websocket(message):
        await send({**message, "type": "websocket." + message["type"]})
    return over_websocket


class StreamingServer:
    """The streaming endpoints of one kubelet; ``host`` is the ``Kubelet`` (``workers``,
    ``runtime``).  Called with the request's (already authorized) method and path."""

    def __init__(self, host):
        self.host = host

    async def __call__(self, scope, receive, send, method: str, path: str) -> None:
        try:
            await self._serve(scope, receive, send, method, path)
        except Refusal as r:
            await respond(scope, send, r.status, r.message.encode(), headers=r.headers)

    async def _serve(self, scope, receive, send, method, path):
        from . import streaming_logs, streaming_session
        target = parse_path(path)
        if target is None:
            raise Refusal(404, "404 page not found\n")
        if target.kind == "containerLogs":
            if method != "GET" or scope["type"] == "websocket":
                raise Refusal(405, "Method Not Allowed", [("allow", "GET")])
            return await streaming_logs.serve(self.host, scope, receive, send, target)
        if method not in ("GET", "POST"):
            raise Refusal(405, "Method Not Allowed", [("allow", "GET, POST")])
        if target.kind == "portForward":
            return await self._port_forward(scope, receive, send, target)
        q = query(scope)
        opts = command_options(q)
        worker = find_worker(self.host, target.namespace, target.pod)
        if worker is None:
            raise Refusal(404, "pod does not exist")
        rec = find_record(worker, target.container)
        if rec is None or rec.state != st.RUNNING or not rec.container_id or \
                (target.uid and worker.uid != target.uid):
            # GetExec/GetAttach look among the runtime's running containers (of the uid when
            # given): none is a plain error, a 500 before upgrading (pkg/kubelet/
            # kubelet_pods.go findContainer, cri/streaming errors.go WriteError)
            raise Refusal(500, f'container not found ("{target.container}")')
        command = q.get("command") or []
        session = streaming_session.RemoteCommand(
            self.host.runtime, target.kind, rec.container_id, command, opts)
        await self._upgrade(scope, receive, send, "serve_remote_command", session)

    async def _port_forward(self, scope, receive, send, target):
        from . import streaming_session, streaming_ws
        tunnel = scope["type"] == "websocket" and \
            streaming_ws.TUNNEL_PROTOCOL in scope.get("subprotocols", ())
        ports = forward_ports(query(scope)) if scope["type"] == "websocket" and not tunnel \
            else []
        worker = find_worker(self.host, target.namespace, target.pod)
        if worker is None:
            raise Refusal(404, "pod does not exist")
        if target.uid and worker.uid != target.uid:
            raise Refusal(404, "pod not found")
        forwarder = streaming_session.PortForwarder(self.host.runtime, worker.pod)
        if tunnel:
            return await streaming_ws.serve_tunnel(scope, receive, send, forwarder)
        await self._upgrade(scope, receive, send, "serve_port_forward", forwarder, ports)

    async def _upgrade(self, scope, receive, send, handler: str, *args):
        """Hand the request to the websocket or the SPDY flavour of ``handler``."""
        if scope["type"] == "websocket":
            from . import streaming_ws
            return await getattr(streaming_ws, handler)(scope, receive, send, *args)
        from . import streaming_spdy
        await getattr(streaming_spdy, handler)(scope, receive, send, *args)
