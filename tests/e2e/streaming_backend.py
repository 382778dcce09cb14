"""A TLS backend on 127.0.0.1 that stands where a kubelet's API would be, for the API
server's side of streaming: it records every request (request line, headers, the client
certificate's subject) and answers like a kubelet's streaming endpoints would.

* ``/containerLogs/…``: 200, chunked, ``line 1`` … ``line N`` (N from ``tailLines``, else 3);
  with ``follow=true`` one line every 0.2 s, 10 of them;
* an upgrade to ``/exec``, ``/attach``, ``/portForward`` (websocket or SPDY/3.1): ``101`` with
  the first protocol offered, then ``hello:`` and an echo of every byte sent;
* ``/refuse…`` (any): 404 text, as a kubelet answers for a container it does not know;
* anything else: 200 text naming the method, path and query (``nodes/proxy``).

The serving certificate is issued by the CA given (the server's, so the API server can
verify it) for the node name and 127.0.0.1 — or by another CA, to play a listener that is
not a kubelet.
"""
from __future__ import annotations

import base64
import hashlib
import socket
import ssl
import tempfile
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC11B65"


class Backend:
    def __init__(self, ca, node: str, client_ca: Path | None = None):
        d = Path(tempfile.mkdtemp(prefix="stream-backend-"))
        crt, key = ca.write_pair(d, "serving", node, client=False, hosts=(node, "127.0.0.1"))
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(crt, key)
        if client_ca is not None:
            self.ctx.load_verify_locations(str(client_ca))
            self.ctx.verify_mode = ssl.CERT_OPTIONAL
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.requests: list[dict] = []
        self.connections = 0                  # TCP connections accepted (TLS or not)
        self.received: list[bytes] = []       # bytes after an upgrade, per session
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self._stop = True
        self.sock.close()

    def _accept(self):
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            tls = self.ctx.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            conn.close()
            return
        try:
            self._handle(tls)
        except (OSError, ssl.SSLError):
            pass
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def _handle(self, tls):
        tls.settimeout(20)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = tls.recv(65536)
            if not chunk:
                return
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.setdefault(name.strip().lower(), []).append(value.strip())
        peer = tls.getpeercert() or {}
        subject = dict(x[0] for x in peer.get("subject", ()))
        url = urlsplit(target)
        record = {"method": method, "path": url.path, "query": parse_qs(url.query,
                                                                         keep_blank_values=True),
                  "raw_query": url.query, "headers": headers, "client_cn": subject.get(
                      "commonName", ""), "client_o": subject.get("organizationName", "")}
        self.requests.append(record)
        upgrade = (headers.get("upgrade") or [""])[0].lower()
        if url.path.startswith("/refuse") or "refuse" in url.path:
            return self._send(tls, 404, b"container not found (\"nope\")")
        if url.path.startswith("/containerLogs/"):
            return self._logs(tls, record)
        if upgrade:
            return self._upgraded(tls, headers, upgrade, rest)
        body = f"{method} {url.path}?{url.query}".encode()
        return self._send(tls, 200, body)

    def _send(self, tls, status, body, content_type=b"text/plain; charset=utf-8"):
        reason = {200: b"OK", 404: b"Not Found"}.get(status, b"Status")
        tls.sendall(b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
                    b"Connection: close\r\n\r\n" % (status, reason, content_type, len(body)) + body)

    def _logs(self, tls, record):
        import time
        q = record["query"]
        follow = q.get("follow") == ["true"]
        count = int(q["tailLines"][0]) if "tailLines" in q else (10 if follow else 3)
        tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n")
        for i in range(1, count + 1):
            line = f"line {i}\n".encode()
            tls.sendall(b"%x\r\n%s\r\n" % (len(line), line))
            if follow:
                time.sleep(0.2)
        tls.sendall(b"0\r\n\r\n")

    def _upgraded(self, tls, headers, upgrade, rest):
        if upgrade == "websocket":
            key = headers["sec-websocket-key"][0].encode()
            accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest())
            offered = [p.strip() for v in headers.get("sec-websocket-protocol", [])
                       for p in v.split(",") if p.strip()]
            head = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n")
            if offered:
                head += b"Sec-WebSocket-Protocol: " + offered[0].encode() + b"\r\n"
        else:
            versions = headers.get("x-stream-protocol-version") or [""]
            head = (b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                    b"Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: " + versions[0].encode()
                    + b"\r\n")
        tls.sendall(head + b"\r\nhello:")
        got = bytearray(rest)
        if rest:
            tls.sendall(rest)
        while True:
            chunk = tls.recv(65536)
            if not chunk:
                break
            got += chunk
            tls.sendall(chunk)
        self.received.append(bytes(got))
