"""A local HTTP server in front of the API Gateway emulation (gateway.py): one thread per
connection, each response in one write with TCP_NODELAY, a listen backlog of 128, and the
dev pages (/docs, /openapi.json) beside the API.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from convoship_dev.docs_pages import DocsPages
from convoship_dev.gateway import LOOPBACK, NO_BODY, Gateway, close_event_loop
from convoship_dev.lambda_events import Headers
from convoship_dev.template import Template

_HOP_BY_HOP = frozenset({"connection", "content-length", "keep-alive", "transfer-encoding"})


class GatewayServer(ThreadingHTTPServer):
    """A threading HTTP server that serves one template's HttpApi."""

    daemon_threads = True
    # The listen backlog. socketserver's default of 5 makes the kernel drop the SYNs of a
    # burst of concurrent clients, each of which then waits a second to retry.
    request_queue_size = 128

    def __init__(
        self, template: Template, address: tuple[str, int], pages: DocsPages | None = None
    ) -> None:
        """Bind to address and prepare the gateway (and the dev pages, when given)."""
        self.gateway = Gateway(template)
        self.pages = pages
        super().__init__(address, _RequestHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up mid-request is no error worth a traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _RequestHandler(BaseHTTPRequestHandler):
    """Turns each HTTP request into an API Gateway payload 2.0 invocation."""

    server: GatewayServer
    protocol_version = "HTTP/1.1"
    server_version = "convoship-local"
    # TCP_NODELAY: with Nagle on, a keep-alive client's delayed ACK holds each response
    # back about 40 ms. Every response also goes out in one write (_reply).
    disable_nagle_algorithm = True

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silence the default access log: _handle writes its own line."""

    def _read_body(self) -> bytes:
        """Read the request body (Content-Length or chunked)."""
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self) -> None:
        """Serve one request and log it (one line: the app's own access line is muted)."""
        started = time.perf_counter()
        raw_path = self.path.partition("?")[0]
        body = self._read_body()
        page = self.server.pages.answer(self.command, raw_path) if self.server.pages else None
        if page is not None:
            (status, headers, out), function = page, "(docs)"
        else:
            (status, headers, out), function = self.server.gateway.handle(
                self.command,
                self.path,
                self.headers.items(),
                body,
                source_ip=self.client_address[0],
            )
        elapsed_ms = (time.perf_counter() - started) * 1000
        # Logged before replying, so whoever reads the reply can also read the line.
        sys.stderr.write(f"{self.command} {raw_path} {status} {elapsed_ms:.0f}ms {function}\n")
        sys.stderr.flush()
        self._reply(status, headers, out)

    def _reply(self, status: int, headers: Headers, body: bytes) -> None:
        """Status line, headers and body in a single write."""
        lines = [
            f"{self.protocol_version} {status} {_reason(status)}",
            f"server: {self.version_string()}",
            f"date: {self.date_time_string()}",
        ]
        lines += [f"{name}: {value}" for name, value in headers if name.lower() not in _HOP_BY_HOP]
        if status not in NO_BODY:
            lines.append(f"content-length: {len(body)}")
        if self.close_connection:
            lines.append("connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "strict")
        self.wfile.write(head + (b"" if status in NO_BODY else body))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _handle

    def finish(self) -> None:
        """The connection's thread ends here: close the event loop it was given."""
        try:
            super().finish()
        finally:
            close_event_loop()


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def make_server(
    template: Template,
    host: str = LOOPBACK,
    port: int = 3000,
    *,
    allow_external: bool = False,
    pages: DocsPages | None = None,
) -> GatewayServer:
    """Create (and bind) the gateway server; only loopback unless allow_external."""
    if host == "localhost":
        host = LOOPBACK
    if host != LOOPBACK and not allow_external:
        raise ValueError(f"refusing to listen on {host!r}: the local runner binds {LOOPBACK}")
    return GatewayServer(template, (host, port), pages)


class _WithoutAppAccessLines(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        from convoship.http.app import ACCESS_LOG_MESSAGE

        return record.msg != ACCESS_LOG_MESSAGE


def mute_app_access_log() -> None:
    """The runner writes one line per request; the app's own JSON access line (what Lambda
    logs in production) would be a second one."""
    from convoship.core.observability import logger

    logger.addFilter(_WithoutAppAccessLines())


def run_server(server: GatewayServer, *, on_ready: Callable[[str], None] | None = None) -> None:
    """Serve until interrupted (Ctrl-C, or SIGTERM turned into one); on_ready gets the URL."""
    try:
        if on_ready is not None:
            bound_host, bound_port = server.server_address[:2]
            on_ready(f"http://{bound_host!s}:{bound_port}")
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
