"""A second, hostile look at PreparedRoute (http/prepared_route.py): more requests a public
caller may send, answered as FastAPI answers them; its content-type reading against the
email package's (FastAPI's) on generated header values; and the real embed routes of the chat
function against the same routes declared as plain APIRoutes (answers and OpenAPI)."""

from __future__ import annotations

import email.message
import json
import random
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute

from convoship.http.app import create_app, make_handler
from convoship.http.prepared_route import PreparedRoute, _is_json
from convoship_dev.lambda_events import http_api_event
from tests.unit.test_prepared_route import CHAT, FASTAPI, JSON, PREPARED, PROFILE, _answer, _case

ROOT = Path(__file__).resolve().parents[2]
OK = {"message": "hi"}


def _ct(value: str) -> dict[str, Any]:
    return _case(OK, [("content-type", value)])


def _method(method: str, route: str) -> dict[str, Any]:
    path = route.split(" ", 1)[1].replace("{public_token}", "tok_abcdefgh")
    body = b'{"message": "hi"}' if route == CHAT else b""
    return http_api_event(
        method, path, "", JSON, body, route, {"public_token": "tok_abcdefgh"}, None
    )


CASES = {
    "duplicate keys, the last wins": _case(b'{"message": "a", "message": "b"}'),
    "duplicate keys, the last refused": _case(
        b'{"message": "a", "conversation_id": null, "conversation_id": "x"}'
    ),
    "Infinity": _case(b'{"message": Infinity}'),
    "an integer past the digit limit": _case(b'{"message": ' + b"9" * 5000 + b"}"),
    "message a number": _case(b'{"message": 1.5}'),
    "message true": _case(b'{"message": true}'),
    "message null": _case(b'{"message": null}'),
    "message an object": _case(b'{"message": {"a": {"b": 1}}}'),
    "a BOM alone": _case(b"\xef\xbb\xbf"),
    "UTF-16 with a BOM": _case('{"message": "hi"}'.encode("utf-16")),
    "UTF-32 with a BOM": _case('{"message": "hi"}'.encode("utf-32")),
    "UTF-16 without a BOM": _case('{"message": "hi"}'.encode("utf-16-le")),
    "latin-1 body as declared": _case(
        '{"message": "h\u00e9"}'.encode("latin-1"),
        [("content-type", "application/json;charset=latin-1")],
    ),
    "a lone low surrogate": _case(b'{"message": "\\udc00x"}'),
    "a control character": _case(b'{"message": "a\x01b"}'),
    "trailing garbage": _case(b'{"message": "hi"} x'),
    "whitespace only": _case(b"   "),
    "a NUL byte only": _case(b"\x00"),
    "objects nested past the parser": _case(b'{"a":' * 3000 + b"1" + b"}" * 3000),
    "arrays nested 100k deep": _case(b"[" * 100_000 + b"]" * 100_000),
    "a 2 MB message": _case({"message": "x" * 2_000_000}),
    "a braced uuid": _case({"message": "hi", "conversation_id": "{" + "8e0c" * 8 + "}"}),
    "application/x-json": _ct("application/x-json"),
    "*/*": _ct("*/*"),
    "application/*": _ct("application/*"),
    "application/+json": _ct("application/+json"),
    "space inside the type": _ct("application /json"),
    "tabs around": _ct("\tapplication/json\t"),
    "no-break spaces around": _ct("\xa0application/json\xa0"),
    "a quoted type": _ct('"application/json"'),
    "parameters first": _ct(";application/json"),
    "a list of types": _ct("application/json, text/plain"),
    "a comment": _ct("application/json (c)"),
    "a folded header": _ct("application/json\r\n x"),
    "non-latin-1 in the type": _ct("appl\u0130cation/json"),
    "5000 parameters": _ct("application/json;" + "a=b;" * 5000),
    "two types, JSON first": _case(
        OK, [("content-type", "application/json"), ("content-type", "text/plain")]
    ),
    "two types, text first": _case(
        OK, [("content-type", "text/plain"), ("content-type", "application/json")]
    ),
    "origin twice, cases differ": _case(OK, [*JSON, ("origin", "a"), ("Origin", "b")]),
    "visitor token twice": _case(OK, [*JSON, ("x-visitor-token", "a"), ("X-Visitor-Token", "b")]),
    "visitor token with underscores": _case(OK, [*JSON, ("x_visitor_token", "a")]),
    "underscores and dashes": _case(
        OK, [*JSON, ("x_visitor_token", "a"), ("x-visitor-token", "b")]
    ),
    "origin not latin-1": _case(OK, [*JSON, ("origin", "\u4e2d\u6587")]),
    "origin at its limit": _case(OK, [*JSON, ("origin", "o" * 2048)]),
    "visitor token of 100 kB": _case(OK, [*JSON, ("x-visitor-token", "v" * 100_000)]),
    "query of an ampersand": _case(OK, query="&"),
    "query of an equals sign": _case(OK, query="="),
    "query not UTF-8": _case(OK, query="%ff=1"),
    "query of 100 kB": _case(OK, query="a=" + "x" * 100_000),
    "unknown query, text body": _case(OK, [("content-type", "text/plain")], query="a=1"),
    "unknown query, bad field and token": _case({"message": ""}, token="x", query="a=1"),
    "token of 8": _case(OK, token="a" * 8),
    "token of 128": _case(OK, token="a" * 128),
    "token of 7": _case(OK, token="a" * 7),
    "token with a newline": _case(OK, token="abcdefgh\n"),
    "token percent-encoded": _case(OK, token="abcd%41efgh"),
    "token with a non-ASCII digit": _case(OK, token="abcdefgh\u0663"),
    "token empty": _case(OK, token=""),
    "profile, long token and a query": _case(None, [], token="a" * 200, query="x", route=PROFILE),
    **{
        f"{method} on {route}": _method(method, route)
        for method in ("HEAD", "OPTIONS", "PUT", "DELETE", "PATCH", "TRACE", "GET", "POST")
        for route in (CHAT, PROFILE)
    },
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_hostile_request_is_answered_as_fastapi_answers_it(name: str) -> None:
    expected = _answer(FASTAPI, CASES[name])
    assert expected[0] != 500, expected
    assert _answer(PREPARED, CASES[name]) == expected


def _email_reads_json(value: str) -> bool:
    """FastAPI's reading of a content type (fastapi/routing.py, get_request_handler)."""
    message = email.message.Message()
    message["content-type"] = value
    if message.get_content_maintype() != "application":
        return False
    subtype = message.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")


ATOMS = [
    *("application", "APPLICATION", "Application", "json", "JSON", "+json", "x-json"),
    *("/", "//", ";", ",", "=", '"', "(", ")", "*", "\\", "charset=utf-8", "text"),
    *(" ", "\t", "\r", "\n", "\x0b", "\x0c", "\x1c", "\x1f", "\x85", "\xa0", "\x00"),
    *("\u0130", "\u212a", "\u017f"),  # their lower() differs in length or script
]


def test_content_types_are_read_as_the_email_package_reads_them() -> None:
    rng = random.Random(19)
    for _ in range(30_000):
        value = "".join(rng.choice(ATOMS) for _ in range(rng.randint(0, 7)))
        assert _is_json(value) == _email_reads_json(value), repr(value)


# The chat function's own embed routes, and the same routes declared as plain APIRoutes.
sys.path.insert(0, str(ROOT / "functions" / "chat"))
from chat_fn import routes as chat_routes  # noqa: E402


def _plain_twin(router: APIRouter) -> APIRouter:
    twin = APIRouter()
    for route in router.routes:
        assert isinstance(route, PreparedRoute)
        twin.routes.append(
            APIRoute(
                route.path,
                route.endpoint,
                methods=sorted(route.methods),
                response_model=route.response_model,
                responses=route.responses,
                dependencies=route.dependencies,
                tags=route.tags,
            )
        )
    return twin


REAL_APP = create_app("chat", [chat_routes.embed_router])
TWIN_APP = create_app("chat", [_plain_twin(chat_routes.embed_router)])
REAL, TWIN = make_handler(REAL_APP), make_handler(TWIN_APP)
# Requests the routes refuse before any agent is looked up (no database is reached): those
# the twin routes of test_prepared_route refuse too (its endpoint answers the others).
REFUSED = {name: event for name, event in CASES.items() if _answer(FASTAPI, event)[0] != 200}


def test_the_real_embed_routes_are_prepared_routes() -> None:
    assert {type(route) for route in chat_routes.embed_router.routes} == {PreparedRoute}


@pytest.mark.parametrize("name", list(REFUSED))
def test_the_real_embed_routes_refuse_as_plain_routes_refuse(name: str) -> None:
    expected = _answer(TWIN, REFUSED[name])
    assert 400 <= expected[0] < 500, expected
    assert _answer(REAL, REFUSED[name]) == expected


def test_the_real_embed_routes_document_what_plain_routes_document() -> None:
    assert json.dumps(REAL_APP.openapi(), sort_keys=True) == json.dumps(
        TWIN_APP.openapi(), sort_keys=True
    )
