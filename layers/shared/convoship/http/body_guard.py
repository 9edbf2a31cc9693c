"""Lone UTF-16 surrogates in a JSON body: 422 for every route, before any route runs.

JSON may spell half a surrogate pair alone (`"\\ud800"`), and Python's json also takes one
written raw (the bytes ED A0 80, which are not UTF-8, or a UTF-16 body's lone D800: it
decodes bodies with 'surrogatepass'); the first UTF-8 encode then fails (the database
driver, the response renderer), far from the input and possibly after a write. One check
here covers every field of every route. It costs a byte search per body; only a body that
may hold a surrogate is parsed twice, as the routes parse it (json.loads: NaN and all, so
that a body the routes would read is never passed over because a stricter parse refused it).
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from convoship.core.json_text import Loc, lone_surrogate_at, may_hold_a_surrogate
from convoship.http.problems import problem


def _finding(body: bytes) -> tuple[Loc, str] | None:
    if not may_hold_a_surrogate(body):
        return None  # the common case: no surrogate, spelled or raw
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return None  # not JSON: the route reports that
    return lone_surrogate_at(parsed, ["body"])


class LoneSurrogateGuard:
    """ASGI middleware: reads the body, answers 422 when it holds a lone surrogate, else
    hands the same body on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        received: list[Message] = []
        while True:
            message = await receive()
            received.append(message)
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        body = b"".join(m.get("body", b"") for m in received if m["type"] == "http.request")
        finding = _finding(body)
        if finding is not None:
            loc, msg = finding
            response = problem(
                422,
                "validation",
                "Invalid request",
                "the body holds a lone UTF-16 surrogate, which no UTF-8 text can carry",
                errors=[{"loc": loc, "msg": msg}],
            )
            await response(scope, receive, send)
            return

        async def replay() -> Message:
            return received.pop(0) if received else await receive()

        await self.app(scope, replay, send)
