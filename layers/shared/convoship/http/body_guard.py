"""Lone UTF-16 surrogates in a JSON body: 422 for every route, before any route runs.

JSON may spell half a surrogate pair alone (`"\\ud800"`); Python's json accepts it and the
first UTF-8 encode fails (the database driver, the response renderer), far from the input
and possibly after a write. One check here covers every field of every route. It costs a
byte search per body; only a body that spells a surrogate escape is parsed again.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from convoship.http.problems import problem

_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")
Loc = list[str | int]


def _escaped(text: str) -> str:
    """text with its surrogates spelled out, so the message itself can be encoded."""
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


def lone_surrogate(value: Any) -> tuple[Loc, str] | None:
    """Where a lone surrogate in a parsed JSON value is, and a message; None if there is
    none. Iterative: the body may nest as deep as json would parse."""
    todo: list[tuple[Any, Loc]] = [(value, ["body"])]
    while todo:
        item, loc = todo.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return loc, f"contains a lone UTF-16 surrogate: {_escaped(item)[:80]!r}"
        elif isinstance(item, dict):
            for key, child in item.items():
                if _SURROGATE.search(key):
                    return loc, f"key {_escaped(key)[:80]!r} contains a lone UTF-16 surrogate"
                todo.append((child, [*loc, key]))
        elif isinstance(item, list):
            todo += [(child, [*loc, index]) for index, child in enumerate(item)]
    return None


def _finding(body: bytes) -> tuple[Loc, str] | None:
    if not _SURROGATE_ESCAPE.search(body):
        return None  # the common case: no surrogate is even spelled
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return None  # not JSON: the route reports that
    return lone_surrogate(parsed)


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
