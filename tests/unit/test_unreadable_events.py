"""An event Mangum cannot turn into a request is a 422 that says where, not a 500.

A payload-2.0 event is JSON, and JSON may carry half a surrogate pair (`"\\ud800"`) in any
string: in a header's name or value, the raw query, a cookie or a body that is not base64,
Mangum's `.encode()` raised UnicodeEncodeError before any of our code ran (a 500 with no
request line). So did a Host or X-Forwarded-Port it could not split into a name and a port,
and a base64 body that does not decode. Each is now answered as every request is: a problem
response with the request id and one request line, and the route never runs."""

from __future__ import annotations

import copy
import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import Response

from convoship.core.observability import logger
from convoship.http.app import create_app, make_handler
from convoship.http.routing import api_router
from convoship_dev.lambda_events import LambdaContext, http_api_event

Event = dict[str, Any]
ran: list[str] = []


def _handler() -> Callable[[Event, Any], dict[str, Any]]:
    router = api_router(tags=("t",))

    @router.post("/v1/echo")
    async def echo() -> Response:
        ran.append("echo")
        return Response(b"{}", media_type="application/json")

    @router.get("/v1/items/{name}")
    async def item(name: str) -> Response:
        ran.append(name)
        return Response(b"{}", media_type="application/json")

    return make_handler(create_app("t", [router]))


HANDLER = _handler()


def _event() -> Event:
    headers = [("host", "api.example.com"), ("content-type", "application/json")]
    return http_api_event("POST", "/v1/echo", "", headers, b"{}", "POST /v1/echo", {}, None)


def _with(change: Callable[[Event], None]) -> Event:
    event = copy.deepcopy(_event())
    change(event)
    return event


def _header(name: str, value: str) -> Callable[[Event], None]:
    return lambda e: e["headers"].__setitem__(name, value)


def _set(key: str, value: Any) -> Callable[[Event], None]:
    return lambda e: e.__setitem__(key, value)


def _body(body: str, *, base64: bool) -> Callable[[Event], None]:
    def change(e: Event) -> None:
        e["body"], e["isBase64Encoded"] = body, base64

    return change


CASES: list[tuple[str, Callable[[Event], None], list[str], str]] = [
    ("header value", _header("origin", "https://a\ud800"), ["header", "origin"], "surrogate"),
    ("header name", _header("x-\udfff", "v"), ["header"], "surrogate"),
    ("request id", _header("x-request-id", "ab\udbff"), ["header", "x-request-id"], "surrogate"),
    ("query", _set("rawQueryString", "q=\ud800"), ["query"], "surrogate"),
    ("cookie", _set("cookies", ["a=1", "b=\ud800"]), ["cookie"], "surrogate"),
    ("raw body", _body('{"m": "\ud800"}', base64=False), ["body"], "surrogate"),
    ("base64 body", _body("a", base64=True), ["body"], "cannot be read"),
    ("host, two colons", _header("host", "a:b:c"), ["header", "host"], "host name"),
    ("host, no port number", _header("host", "a:x"), ["header", "host"], "host name"),
    ("forwarded port", _header("x-forwarded-port", "8o"), ["header", "x-forwarded-port"], "port"),
]


def _drop(*path: str) -> Callable[[Event], None]:
    def change(e: Event) -> None:
        for key in path[:-1]:
            e = e[key]
        del e[path[-1]]

    return change


def _http(key: str, value: Any) -> Callable[[Event], None]:
    return lambda e: e["requestContext"]["http"].__setitem__(key, value)


NOT_AN_EVENT = "is not an API Gateway HTTP API request"
# Shapes only a hand-made event has (API Gateway sends text, in its own layout): a direct
# invoke or a harness. Each raised out of the handler, or was Mangum's plain-text 500.
HAND_MADE: list[tuple[str, Callable[[Event], None], list[str]]] = [
    ("header value a number", _header("x-request-id", 5), ["header"]),  # type: ignore[arg-type]
    ("header value null", _header("origin", None), ["header"]),  # type: ignore[arg-type]
    ("header value a list", _header("x-forwarded-proto", ["https"]), ["header"]),  # type: ignore[arg-type]
    ("header name a number", lambda e: e["headers"].__setitem__(5, "v"), ["header"]),
    ("headers a list", _set("headers", [["host", "h"]]), ["header"]),
    ("headers text", _set("headers", "host: h"), ["header"]),
    ("query a number", _set("rawQueryString", 5), ["query"]),
    ("cookies numbers", _set("cookies", [1]), ["cookie"]),
    ("path a number", _http("path", 5), ["event"]),
    ("no requestContext.http", _drop("requestContext", "http"), ["event"]),
    ("requestContext null", _set("requestContext", None), ["event"]),
    ("requestContext text", _set("requestContext", "x"), ["event"]),
    ("version 1.0", _set("version", "1.0"), ["event"]),
    ("host a number", _header("host", 5), ["header"]),  # type: ignore[arg-type]
    ("body a number", _body(5, base64=False), ["body"]),  # type: ignore[arg-type]
    ("body a mapping", _body({"m": 1}, base64=False), ["body"]),  # type: ignore[arg-type]
    ("base64 body a number", _body(5, base64=True), ["body"]),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("name", "change", "loc"), HAND_MADE, ids=[c[0] for c in HAND_MADE])
def test_a_hand_made_event_of_another_shape_is_a_422_too(
    name: str, change: Callable[[Event], None], loc: list[str]
) -> None:
    ran.clear()
    answer = HANDLER(_with(change), LambdaContext("t"))
    assert answer["statusCode"] == 422, answer
    assert answer["headers"]["x-request-id"]
    problem = json.loads(answer["body"])
    assert problem["errors"][0]["loc"] == loc
    assert ran == []


@pytest.mark.parametrize("event", [None, 5, "event", ["a"], {}, {"version": "2.0"}])
def test_an_event_that_is_no_request_at_all_is_a_422(event: Any) -> None:
    answer = HANDLER(event, LambdaContext("t"))  # type: ignore[arg-type]
    assert answer["statusCode"] == 422, answer
    assert json.loads(answer["body"])["errors"] == [
        {"loc": ["event"], "msg": NOT_AN_EVENT + " (payload format 2.0)"}
    ]


@pytest.mark.parametrize("params", [["a"], "a", 5])
def test_path_parameters_of_another_shape_are_not_read(params: Any) -> None:
    """The route reads the path, never pathParameters (only a decoded %2F in them is
    checked): another shape there is no reason to refuse a request."""
    ran.clear()
    answer = HANDLER(_with(_set("pathParameters", params)), LambdaContext("t"))
    assert answer["statusCode"] == 200, answer
    assert ran == ["echo"]


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """The request lines written while a test runs (INFO, as deployed)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.handlers[0].formatter)
    level = logger.log_level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.mark.parametrize(("name", "change", "loc", "said"), CASES, ids=[c[0] for c in CASES])
def test_an_event_mangum_cannot_read_is_a_422_that_says_where(
    name: str,
    change: Callable[[Event], None],
    loc: list[str],
    said: str,
    lines: io.StringIO,
) -> None:
    ran.clear()
    answer = HANDLER(_with(change), LambdaContext("t"))
    assert answer["statusCode"] == 422, answer
    assert answer["headers"]["content-type"] == "application/problem+json"
    assert answer["headers"]["x-request-id"]
    problem = json.loads(answer["body"])
    assert problem["type"] == "/problems/validation"
    assert problem["errors"] == [{"loc": loc, "msg": problem["errors"][0]["msg"]}]
    assert said in problem["errors"][0]["msg"]
    assert ran == []  # the route never ran
    written = [json.loads(line) for line in lines.getvalue().splitlines()]
    assert [(w["message"], w["status"], w["method"]) for w in written] == [("request", 422, "POST")]
    assert "\\ud" not in lines.getvalue().lower()  # nothing of the value is written


def test_the_same_event_without_the_bad_text_is_served() -> None:
    ran.clear()
    answer = HANDLER(_event(), LambdaContext("t"))
    assert answer["statusCode"] == 200
    assert ran == ["echo"]


def test_an_unreadable_event_leaves_the_next_one_unharmed() -> None:
    """A refused event's scope is its own: the adapter keeps nothing between events."""
    ran.clear()
    assert HANDLER(_with(_header("origin", "\ud800")), LambdaContext("t"))["statusCode"] == 422
    assert HANDLER(_event(), LambdaContext("t"))["statusCode"] == 200
    assert ran == ["echo"]


def _item_event(name: str) -> Event:
    headers = [("host", "api.example.com")]
    path = f"/v1/items/{name}"
    event = http_api_event("GET", path, "", headers, b"", "GET /v1/items/{name}", {}, None)
    event["pathParameters"] = {"name": name}
    return event


@pytest.mark.parametrize("name", ["a/b", "a\x00b", "a\ud800b", "\udfff"])
def test_a_path_parameter_that_names_nothing_is_a_404(name: str) -> None:
    """A decoded %2F, a NUL or half a surrogate pair: the route never runs (a surrogate
    reached the database driver's UTF-8 encode on the agents routes: 500)."""
    ran.clear()
    answer = HANDLER(_item_event(name), LambdaContext("t"))
    assert answer["statusCode"] == 404, answer
    assert json.loads(answer["body"])["type"] == "/problems/not-found"
    assert ran == []


@pytest.mark.parametrize("name", ["plain", "\u00e9t\u00e9", "\U0001f600"])
def test_a_path_parameter_of_any_text_is_served(name: str) -> None:
    ran.clear()
    assert HANDLER(_item_event(name), LambdaContext("t"))["statusCode"] == 200
    assert ran == [name]


@pytest.mark.parametrize("bad", ["\ud800", "\x00"])
def test_a_path_that_names_nothing_is_a_404_whatever_pathparameters_say(bad: str) -> None:
    """A hand-made event whose path holds what its pathParameters do not: the route reads
    the path (a surrogate there reached the database driver's UTF-8 encode: 500)."""
    ran.clear()
    event = _item_event("clean")
    event["requestContext"]["http"]["path"] = f"/v1/items/a{bad}"
    answer = HANDLER(event, LambdaContext("t"))
    assert answer["statusCode"] == 404, answer
    assert ran == []
