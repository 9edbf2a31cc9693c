"""The Lambda event read as an ASGI request: Mangum's HTTP API adapter, and the events it
cannot read answered as requests are.

Mangum builds the request from the event before any of our code runs, and raised on an event
it could not read: a 500 with no request line and no request id. API Gateway can send some
of these: JSON may carry half a surrogate pair (`"\\ud800"`), which no UTF-8 text can carry,
in a header's name or value, the query, a cookie or a body that is not base64; a Host or
X-Forwarded-Port Mangum cannot split into a name and a port. Others only a hand-made event
holds (a direct invoke, a test harness): values that are not text, parts missing, an event
that is no mapping. For each, the adapter builds a scope that says what could not be read,
and RequestIdMiddleware (http/app.py) answers it with a 422 naming the part, as every request
is answered: its request id, its request line, and no route run.
"""

from __future__ import annotations

import functools
from typing import Any

from mangum.handlers import HTTPGateway
from starlette.types import ASGIApp, Scope

from convoship.core.json_text import utf8_carries
from convoship.http.problems import problem

# Where a refused event's scope says what could not be read: (loc, msg), as a 422's errors.
REFUSED_EVENT = "convoship.refused_event"
_SURROGATE = "holds a lone UTF-16 surrogate, which no UTF-8 text can carry"
_NOT_AN_EVENT = "is not an API Gateway HTTP API request (payload format 2.0)"
# What a value Mangum parses can fail on: text it encodes, a host and port it splits, a body
# it decodes from base64 (binascii.Error is a ValueError); and, in a hand-made event, a value
# of another type or a part missing.
_UNREADABLE = (UnicodeEncodeError, ValueError, TypeError, AttributeError, KeyError)


class HttpApiEvent(HTTPGateway):
    """Mangum's HTTP API adapter, with the ASGI scope built once per event (Mangum's own
    builds it again to read the payload version when it renders the result), for every
    event this function receives (template.yaml gives it HTTP API events only)."""

    @classmethod
    def infer(cls, event: Any, context: Any, config: Any) -> bool:
        return True  # an event of another shape is refused by the scope, not a RuntimeError

    @functools.cached_property
    def scope(self) -> Scope:
        try:
            scope = super().scope
        except _UNREADABLE:
            return _refused_scope(self.event, self.context, *_unreadable_part(self.event))
        # The path as API Gateway hands it over, decoded once (as pathParameters are).
        # Mangum's unquote decoded it a second time: `%2500` reached the route as a NUL and
        # `%252F` as a slash, past the checks on pathParameters, another route answering.
        scope["path"] = self.event["requestContext"]["http"]["path"] or "/"
        return scope

    @property
    def body(self) -> bytes:
        try:
            return super().body
        except _UNREADABLE as exc:
            msg = _SURROGATE if isinstance(exc, UnicodeEncodeError) else "cannot be read"
            self.scope.setdefault(REFUSED_EVENT, (["body"], msg))  # the dict HTTPCycle has
            return b""


def refused_event(scope: Scope) -> ASGIApp | None:
    """The 422 for an event the adapter could not read, or None for a request."""
    refused = scope.get(REFUSED_EVENT)
    if refused is None:
        return None
    loc, msg = refused
    return problem(
        422,
        "validation",
        "Invalid request",
        "the request cannot be read as HTTP text",
        errors=[{"loc": loc, "msg": msg}],
    )


def _unreadable_part(event: Any) -> tuple[list[str], str]:
    """The first part of the event Mangum could not read, and why."""
    if not isinstance(event, dict):
        return ["event"], _NOT_AN_EVENT
    headers = event.get("headers") or {}
    if not isinstance(headers, dict):
        return ["header"], _NOT_AN_EVENT
    for name, value in headers.items():
        if not (isinstance(name, str) and isinstance(value, str)):
            return ["header"], _NOT_AN_EVENT
        if not utf8_carries(name):
            return ["header"], _SURROGATE
        if not utf8_carries(value):
            return ["header", name.lower()], _SURROGATE
    query = event.get("rawQueryString", "")
    if not isinstance(query, str):
        return ["query"], _NOT_AN_EVENT
    if not utf8_carries(query):
        return ["query"], _SURROGATE
    cookies = event.get("cookies") or []
    if not (isinstance(cookies, list) and all(isinstance(c, str) for c in cookies)):
        return ["cookie"], _NOT_AN_EVENT
    if not all(utf8_carries(cookie) for cookie in cookies):
        return ["cookie"], _SURROGATE
    http = _http_of(event)
    if event.get("version") != "2.0" or not isinstance(http, dict):
        return ["event"], _NOT_AN_EVENT
    if not all(isinstance(http.get(key), str) for key in ("path", "method", "sourceIp")):
        return ["event"], _NOT_AN_EVENT
    # The other values Mangum parses: the Host header's port, else X-Forwarded-Port.
    host = next((v for k, v in headers.items() if k.lower() == "host"), "")
    return ["header", "host" if ":" in host else "x-forwarded-port"], "not a host name and port"


def _http_of(event: dict[str, Any]) -> Any:
    context = event.get("requestContext")
    return context.get("http") if isinstance(context, dict) else None


def _refused_scope(event: Any, context: Any, loc: list[str], msg: str) -> Scope:
    readable = event if isinstance(event, dict) and event.get("version") == "2.0" else {}
    http = _http_of(readable)
    method = http.get("method") if isinstance(http, dict) else None
    return {
        "type": "http",
        "method": method if isinstance(method, str) and method.isalpha() else "GET",
        "http_version": "1.1",
        "headers": [],
        "path": "/",
        "raw_path": None,
        "root_path": "",
        "scheme": "https",
        "query_string": b"",
        "server": ("mangum", 80),
        "client": None,
        "asgi": {"version": "3.0", "spec_version": "2.0"},
        # Mangum renders the answer in the event's payload format: 2.0, as API Gateway's.
        "aws.event": readable or {"version": "2.0"},
        "aws.context": context,
        REFUSED_EVENT: (loc, msg),
    }
