"""A local HTTP server emulating API Gateway HTTP API (payload 2.0) in front of Lambda.

Routes, Lambda REQUEST authorizers and CORS come from the SAM template; handlers run
in-process, one thread per connection. Gateway-made answers (401/403/404/500) carry the
same bodies API Gateway sends. Not emulated: authorizer caching, Lambda timeouts, and
per-function environment variables (the caller sets os.environ).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from convoship_dev.docs_pages import DocsPages
from convoship_dev.handlers import load_handler
from convoship_dev.lambda_events import (
    Headers,
    LambdaContext,
    authorizer_event,
    http_api_event,
    new_request_id,
    to_http_response,
)
from convoship_dev.router import Match, Router
from convoship_dev.template import AuthorizerSpec, CorsSpec, Template

LOOPBACK = "127.0.0.1"
_HOP_BY_HOP = frozenset({"connection", "content-length", "keep-alive", "transfer-encoding"})
_NO_BODY = frozenset({204, 304})

Response = tuple[int, Headers, bytes]


def _gateway(status: int, message: str) -> Response:
    """One of API Gateway's own JSON answers."""
    body = json.dumps({"message": message}, separators=(",", ":")).encode()
    return status, [("content-type", "application/json")], body


def _json_roundtrip(value: Any) -> Any:
    """Serialise a handler result as the Lambda runtime does, failing the same way."""
    return json.loads(json.dumps(value))


def _allowed_origin(cors: CorsSpec, origin: str) -> str | None:
    """The Access-Control-Allow-Origin value for origin, or None when not allowed."""
    for allowed in cors.allow_origins:
        if allowed == "*":
            return "*"
        if allowed.endswith("*") and origin.lower().startswith(allowed[:-1].lower()):
            return origin
        if allowed.lower() == origin.lower():
            return origin
    return None


def _preflight(cors: CorsSpec, origin: str) -> Response:
    """API Gateway's own answer to a CORS preflight request."""
    allowed = _allowed_origin(cors, origin)
    headers: Headers = []
    if allowed is not None:
        headers.append(("access-control-allow-origin", allowed))
        if cors.allow_credentials:
            headers.append(("access-control-allow-credentials", "true"))
        if cors.allow_methods:
            headers.append(("access-control-allow-methods", ",".join(cors.allow_methods)))
        if cors.allow_headers:
            headers.append(("access-control-allow-headers", ",".join(cors.allow_headers)))
        if cors.max_age is not None:
            headers.append(("access-control-max-age", str(cors.max_age)))
    return 204, headers, b""


def _with_cors(cors: CorsSpec | None, origin: str | None, response: Response) -> Response:
    """Replace an integration's CORS headers by the configured ones, as API Gateway does."""
    if cors is None:
        return response
    status, headers, body = response
    headers = [(k, v) for k, v in headers if not k.lower().startswith("access-control-")]
    allowed = _allowed_origin(cors, origin) if origin else None
    if allowed is not None:
        headers.append(("access-control-allow-origin", allowed))
        if cors.allow_credentials:
            headers.append(("access-control-allow-credentials", "true"))
        if cors.expose_headers:
            headers.append(("access-control-expose-headers", ",".join(cors.expose_headers)))
    return status, headers, body


def _is_authorized(spec: AuthorizerSpec, result: Any) -> bool:
    """Read a simple ({"isAuthorized": ...}) or IAM-policy authorizer response."""
    if not isinstance(result, dict):
        return False
    if spec.simple_responses:
        return result.get("isAuthorized") is True
    statements = (result.get("policyDocument") or {}).get("Statement") or []
    effects = {str(s.get("Effect", "")).lower() for s in statements if isinstance(s, dict)}
    return "allow" in effects and "deny" not in effects


class Gateway:
    """API Gateway in front of Lambda, without sockets: route, authorize, invoke."""

    def __init__(self, template: Template) -> None:
        self.template = template
        self.router = Router.from_template(template)

    def handle(
        self,
        method: str,
        target: str,
        headers: Headers,
        body: bytes,
        *,
        source_ip: str = LOOPBACK,
        request_id: str | None = None,
    ) -> tuple[Response, str]:
        """Answer one request (target = path?query); returns the response and the function."""
        _ensure_event_loop()
        request_id = request_id or new_request_id()
        raw_path, _, raw_query = target.partition("?")
        try:
            response, function = self._dispatch(
                method, raw_path, raw_query, headers, body, source_ip, request_id
            )
        except Exception:
            traceback.print_exc(file=sys.stderr)
            response, function = _gateway(500, "Internal Server Error"), "-"
        status, out_headers, out_body = response
        out_headers = [(k, v) for k, v in out_headers if k.lower() != "apigw-requestid"]
        out_headers.append(("apigw-requestid", request_id))
        return (status, out_headers, b"" if status in _NO_BODY else out_body), function

    def _invoke_authorizer(
        self,
        match: Match,
        spec: AuthorizerSpec,
        method: str,
        raw_path: str,
        raw_query: str,
        headers: Headers,
        source_ip: str,
        request_id: str,
    ) -> tuple[Response | None, dict[str, Any] | None]:
        """Run the route's authorizer: a gateway response to send, or the context."""
        present = {k.lower(): v for k, v in headers if v.strip()}
        if any(h.lower() not in present for h in spec.identity_headers):
            return _gateway(401, "Unauthorized"), None
        fn = self.template.functions[spec.function_logical_id]
        event = authorizer_event(
            method,
            raw_path,
            raw_query,
            headers,
            match.route.key,
            match.path_parameters,
            spec.identity_headers,
            source_ip=source_ip,
            request_id=request_id,
        )
        try:
            result = _json_roundtrip(load_handler(fn)(event, LambdaContext(fn)))
        except Exception:
            # API Gateway answers an authorizer that raised (or timed out) with a 500.
            traceback.print_exc(file=sys.stderr)
            return _gateway(500, "Internal Server Error"), None
        if not _is_authorized(spec, result):
            return _gateway(403, "Forbidden"), None
        context = result.get("context")
        return None, context if isinstance(context, dict) else {}

    def _dispatch(
        self,
        method: str,
        raw_path: str,
        raw_query: str,
        headers: Headers,
        body: bytes,
        source_ip: str,
        request_id: str,
    ) -> tuple[Response, str]:
        cors = self.template.cors
        lowered = {k.lower(): v for k, v in headers}
        origin = lowered.get("origin")
        if (
            method == "OPTIONS"
            and cors is not None
            and origin
            and lowered.get("access-control-request-method")
        ):
            return _preflight(cors, origin), "(cors)"
        match = self.router.match(method, raw_path)
        if match is None:
            return _with_cors(cors, origin, _gateway(404, "Not Found")), "-"
        fn = match.function
        context: dict[str, Any] | None = None
        spec = self.template.authorizers.get(match.route.authorizer or "")
        if spec is not None:
            denied, context = self._invoke_authorizer(
                match, spec, method, raw_path, raw_query, headers, source_ip, request_id
            )
            if denied is not None:
                return _with_cors(cors, origin, denied), fn.logical_id
        event = http_api_event(
            method,
            raw_path,
            raw_query,
            headers,
            body,
            match.route.key,
            match.path_parameters,
            context,
            source_ip=source_ip,
            request_id=request_id,
        )
        try:
            result = _json_roundtrip(load_handler(fn)(event, LambdaContext(fn)))
            response = to_http_response(result)
        except Exception:
            traceback.print_exc(file=sys.stderr)
            response = _gateway(500, "Internal Server Error")
        return _with_cors(cors, origin, response), fn.logical_id


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
        if status not in _NO_BODY:
            lines.append(f"content-length: {len(body)}")
        if self.close_connection:
            lines.append("connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "strict")
        self.wfile.write(head + (b"" if status in _NO_BODY else body))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _handle

    def finish(self) -> None:
        """The connection's thread ends here: close the event loop it was given."""
        try:
            super().finish()
        finally:
            _close_event_loop()


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


_thread_state = threading.local()


def _close_event_loop() -> None:
    if getattr(_thread_state, "has_loop", False):
        asyncio.get_event_loop_policy().get_event_loop().close()
        asyncio.set_event_loop(None)
        _thread_state.has_loop = False


def _ensure_event_loop() -> None:
    """Mangum runs each invocation on asyncio.get_event_loop(): give every calling thread
    its own loop once (Lambda's runtime has one on its main thread)."""
    if not getattr(_thread_state, "has_loop", False):
        asyncio.set_event_loop(asyncio.new_event_loop())
        _thread_state.has_loop = True


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
