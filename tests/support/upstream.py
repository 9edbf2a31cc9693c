"""A loopback HTTP/1.1 upstream (a tool or model server) that counts what reaches it.

It keeps connections alive, counts the TCP connections it accepted, and records every
request that arrived (connection number, method, path, Host header), answered or not. Paths:
- `/ok`: 200, a short JSON body (an OpenAI-style completion for POSTs to the model path);
- `/close`: 200 with `Connection: close`; `/keep1`: 200 with `Keep-Alive: timeout=1`;
- `/big`: 200 with a 100 kB body.
`drop` makes requests arrive and go unanswered: read in full, then the connection closed
without a byte of answer. "reused": those that come on a connection which already carried
one (a server that ended an idle keep-alive connection just as a request came in, or died
after receiving it); "all": every request.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

COMPLETION = {
    "choices": [{"message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1},
}


@dataclass(frozen=True)
class Arrival:
    connection: int
    method: str
    path: str
    host: str


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: Upstream

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.number = self.server.accepted_connection(self.request)
        self.carried = 0

    def _any(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.carried += 1
        self.server.arrived(Arrival(self.number, self.command, self.path, self.headers["host"]))
        if self.server.drop == "all" or (self.server.drop == "reused" and self.carried > 1):
            self.close_connection = True  # the request arrived; no answer will
            return
        if self.path == "/big":
            body = b"x" * 100_000
        elif self.path.endswith("/chat/completions"):
            body = json.dumps(COMPLETION).encode()
        else:
            body = json.dumps({"ok": True, "connection": self.number}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        if self.path == "/close":
            self.send_header("connection", "close")
        if self.path == "/keep1":
            self.send_header("keep-alive", "timeout=1")
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any


class Upstream(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.tls = tls
        self.drop: Literal["never", "reused", "all"] = "never"
        self.connections = 0
        self.arrivals: list[Arrival] = []
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}{path}"

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_side=True)
        return sock, address

    def accepted_connection(self, sock: socket.socket) -> int:
        with self._lock:
            self.connections += 1
            self._open.add(sock)
            return self.connections

    def arrived(self, arrival: Arrival) -> None:
        with self._lock:
            self.arrivals.append(arrival)

    def shutdown_request(self, request: Any) -> None:
        with self._lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End every kept-alive connection from this side, as a server's idle timer does."""
        with self._lock:
            still_open = list(self._open)
        for sock in still_open:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        self.shutdown()
        self.close_connections()
        self.server_close()
