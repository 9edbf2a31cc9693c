"""API Gateway HTTP API (payload 2.0) in front of Lambda, without sockets: route, authorize,
invoke, the way the deployed API does it.

Routes, Lambda REQUEST authorizers and CORS come from the SAM template; handlers run
in-process. Gateway-made answers (401/403/404/500) carry the same bodies API Gateway sends.
Not emulated: authorizer caching, Lambda timeouts, and per-function environment variables
(the caller sets os.environ). server.py puts it behind a socket; the tests call it directly.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import traceback
from typing import Any

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
NO_BODY = frozenset({204, 304})

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
        return (status, out_headers, b"" if status in NO_BODY else out_body), function

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


_thread_state = threading.local()


def close_event_loop() -> None:
    """Close the calling thread's loop (when its connection ends)."""
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
