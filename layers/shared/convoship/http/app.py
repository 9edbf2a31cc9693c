"""FastAPI app factory and the Lambda entry point (Mangum, lifespan off)."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.telemetry import TelemetryConfig
from mangum import Mangum
from mangum.adapter import DEFAULT_TEXT_MIME_TYPES
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from convoship.core import snapstart
from convoship.core.json_text import utf8_carries
from convoship.core.observability import log_info, logger, metrics
from convoship.http.body_guard import LoneSurrogateGuard
from convoship.http.lambda_event import HttpApiEvent, refused_event
from convoship.http.problems import install_problem_handlers, problem
from convoship.http.routing import unguarded_routes

# Whole-value match (fullmatch): `$` would also take a value ending in a newline.
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}")
# Mangum base64-encodes any body whose type it does not know as text: problem+json (and
# every other +json type) would reach logs, `sam local` and `convoship invoke` unreadable.
TEXT_MIME_TYPES = [*DEFAULT_TEXT_MIME_TYPES, "+json"]
# The one log line each request writes (the local runner prints its own instead).
ACCESS_LOG_MESSAGE = "request"
_NO_CONTENT = frozenset({204, 304})
_NO_TELEMETRY: TelemetryConfig = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
}


class RequestIdMiddleware:
    """Outermost layer: picks the request id and stamps X-Request-Id on every response,
    including 500s produced after the app gave up."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = self._request_id(scope)
        scope["convoship.request_id"] = request_id
        logger.set_correlation_id(request_id)
        started = False
        began = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                log_info(
                    ACCESS_LOG_MESSAGE,
                    {
                        "method": scope.get("method"),
                        "route": _route_of(scope),
                        "status": message["status"],
                        "duration_ms": round((time.perf_counter() - began) * 1000, 2),
                    },
                )
                headers = [h for h in message.get("headers", []) if h[0] != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        path = str(scope.get("path", ""))
        if len(path) > 1 and path.endswith("/"):
            # API Gateway routes /v1/x/ to the route /v1/x: serve it as that, not a redirect.
            raw = scope.get("raw_path") or b""
            scope = {**scope, "path": path[:-1], "raw_path": raw[:-1] if raw[-1:] == b"/" else raw}
        refused = refused_event(scope)
        if refused is not None:  # an event Mangum could not read (http/lambda_event.py)
            await refused(scope, receive, send_with_id)
            return
        if _names_nothing(scope):
            await problem(404, "not-found", "Not found")(scope, receive, send_with_id)
            return
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            if started:
                return  # the app already answered (with a problem 500) before re-raising
            logger.exception("unhandled error")
            await problem(500, "internal", "Internal error")(scope, receive, send_with_id)

    @staticmethod
    def _request_id(scope: Scope) -> str:
        for name, value in scope.get("headers", []):
            if name == b"x-request-id":
                candidate = value.decode("latin-1")
                if _CLIENT_REQUEST_ID.fullmatch(candidate):
                    return candidate
        context = scope.get("aws.context")
        lambda_id = getattr(context, "aws_request_id", None)
        return str(lambda_id) if lambda_id else str(uuid.uuid4())


def _names_nothing(scope: Scope) -> bool:
    """A path no resource has: one holding a NUL (no text column holds one) or half a
    surrogate pair (no UTF-8 text carries one), or whose {param} API Gateway matched on a
    decoded %2F (the app would see another path)."""
    path = str(scope.get("path", ""))
    if "\x00" in path or not utf8_carries(path):
        return True
    params = scope["aws.event"].get("pathParameters") if "aws.event" in scope else None
    return isinstance(params, dict) and any("/" in str(v) for v in params.values())


def _route_of(scope: Scope) -> str | None:
    """The route template (`/v1/secrets/{name}`), never the raw path with its values."""
    event = scope.get("aws.event") or {}
    route_key = event.get("routeKey") if isinstance(event, dict) else None
    return str(route_key) if route_key else None


def create_app(title: str, routers: Sequence[APIRouter], *, description: str = "") -> FastAPI:
    app = FastAPI(
        title=title,
        description=description,
        version="1.0.0",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        # /v1/x/ is served as /v1/x (RequestIdMiddleware), never redirected: a 307 keeps the
        # method, and a path with two trailing slashes was one.
        redirect_slashes=False,
        # Logs and metrics are Powertools' (core/observability.py); FastAPI's own
        # OpenTelemetry instrumentation would otherwise look for providers on every request.
        telemetry=_NO_TELEMETRY,
    )
    install_problem_handlers(app)
    app.add_middleware(LoneSurrogateGuard)
    for router in routers:
        # The routes as they were built when declared. include_router would keep the
        # router aside and build every route of it again on the first request it serves
        # (FastAPI >= 0.16x), a second dependency analysis paid by each cold start. So the
        # app's own dependencies would not reach them either: routers come from api_router.
        unguarded = unguarded_routes(router.routes)
        if unguarded:
            raise TypeError(f"routes declared without api_router: {', '.join(unguarded)}")
        app.router.routes.extend(router.routes)
    return app


def make_handler(app: FastAPI) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The Lambda handler: Mangum with lifespan off (on would run startup every call)."""
    # Mangum drives each invocation with asyncio.get_event_loop(); give it one up front
    # rather than have Python 3.12 create it implicitly (with a DeprecationWarning).
    asyncio.set_event_loop(asyncio.new_event_loop())
    asgi = Mangum(
        RequestIdMiddleware(app),
        lifespan="off",
        api_gateway_base_path="/",
        custom_handlers=[HttpApiEvent],
        text_mime_types=TEXT_MIME_TYPES,
    )
    snapstart.install()  # with SnapStart on, restored containers drop what the snapshot froze

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        logger.append_keys(function=getattr(context, "function_name", None))
        try:
            result: dict[str, Any] = asgi(event, context)
            if result.get("statusCode") in _NO_CONTENT and result.get("headers"):
                # Mangum labels every payload-2.0 answer application/json, bodiless ones too.
                result["headers"].pop("content-type", None)
            return result
        finally:
            if metrics.metric_set:
                metrics.flush_metrics()

    return handler
