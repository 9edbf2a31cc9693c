"""A PreparedRoute answers every request as the same route read by FastAPI answers it:
the same status, problem body and headers, for well-formed and hostile requests alike; and a
route of a shape it does not read is refused when declared."""

from __future__ import annotations

import importlib
import json
from pathlib import Path as FilePath
from typing import Annotated, Any
from uuid import UUID

import pytest
from fastapi import Header, Path, Request, Response

from convoship.core.errors import NotFound
from convoship.http.app import create_app, make_handler
from convoship.http.models import ResponseModel
from convoship.http.responses import json_response
from convoship.http.routing import api_router
from convoship_dev.handlers import load_handler
from convoship_dev.lambda_events import LambdaContext, http_api_event
from convoship_dev.template import load_template

Token = Annotated[str, Path(min_length=8, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]
GOOD_TOKEN = "tok_abcdefgh"


# The embed chat body itself: the chat function's package, on sys.path as the runtime puts it.
load_handler(load_template(FilePath(__file__).parents[2] / "template.yaml").find_function("chat"))
ChatIn = importlib.import_module("chat_fn.models").ChatIn


class Echo(ResponseModel):
    token: str
    message: str
    conversation_id: UUID | None
    origin: str | None
    visitor: str | None


def _app(prepared: bool) -> Any:
    router = api_router(tags=("t",), prepared=prepared)

    @router.post("/v1/embed/{public_token}/chat", response_model=Echo)
    async def chat(
        public_token: Token,
        body: ChatIn,
        origin: Annotated[str | None, Header(max_length=2048)] = None,
        x_visitor_token: Annotated[str | None, Header(max_length=4096)] = None,
    ) -> Response:
        if body.message == "raise not found":
            raise NotFound("nothing answers to this")
        return json_response(
            Echo,
            {
                "token": public_token,
                "message": body.message,
                "conversation_id": body.conversation_id,
                "origin": origin,
                "visitor": x_visitor_token,
            },
            {"X-Seen": "1"},
        )

    @router.get("/v1/embed/{public_token}", response_model=Echo)
    async def profile(public_token: Token) -> Response:
        return json_response(
            Echo,
            {
                "token": public_token,
                "message": "",
                "conversation_id": None,
                "origin": None,
                "visitor": None,
            },
        )

    return make_handler(create_app("t", [router]))


FASTAPI, PREPARED = _app(False), _app(True)
JSON = [("content-type", "application/json")]
CHAT = "POST /v1/embed/{public_token}/chat"
PROFILE = "GET /v1/embed/{public_token}"


def _case(
    body: bytes | str | dict[str, Any] | None,
    headers: list[tuple[str, str]] | None = None,
    *,
    token: str = GOOD_TOKEN,
    query: str = "",
    route: str = CHAT,
) -> dict[str, Any]:
    raw = json.dumps(body).encode() if isinstance(body, dict) else body
    raw = raw.encode() if isinstance(raw, str) else raw
    method, template = route.split(" ", 1)
    path = template.replace("{public_token}", token)
    return http_api_event(
        method,
        path,
        query,
        JSON if headers is None else headers,
        raw or b"",
        route,
        {"public_token": token},
        None,
    )


CASES = {
    "well formed": _case({"message": "hi"}),
    "with conversation and headers": _case(
        {"message": "hi", "conversation_id": "8e0c7d8e-3a9f-4f5e-9a55-1f0e2b9a7c11"},
        [*JSON, ("origin", "https://shop.example"), ("x-visitor-token", "v.t.s")],
    ),
    "header names in capitals": _case(
        {"message": "hi"}, [("Content-Type", "application/json"), ("Origin", "https://a.b")]
    ),
    "conversation null": _case({"message": "hi", "conversation_id": None}),
    "domain error": _case({"message": "raise not found"}),
    "short token": _case({"message": "hi"}, token="abc"),
    "long token": _case({"message": "hi"}, token="a" * 129),
    "token off pattern": _case({"message": "hi"}, token="abcdefgh.ij"),
    "token with a slash": _case({"message": "hi"}, token="abcd%2Fefgh"),
    "empty body": _case(None),
    "not json": _case(b"{not json"),
    "truncated json": _case(b'{"message": "hi"'),
    "json array": _case(b'["hi"]'),
    "json string": _case(b'"hi"'),
    "json number": _case(b"1e999"),
    "json NaN": _case(b'{"message": NaN}'),
    "extra field": _case({"message": "hi", "admin": True}),
    "message missing": _case({"conversation_id": None}),
    "message empty": _case({"message": ""}),
    "message with NUL": _case({"message": "a\u0000b"}),
    "message not text": _case({"message": 42}),
    "message a list": _case({"message": ["a"]}),
    "conversation not a uuid": _case({"message": "hi", "conversation_id": "nope"}),
    "conversation a number": _case({"message": "hi", "conversation_id": 7}),
    "two errors at once": _case({"message": "", "conversation_id": "x"}, token="bad"),
    "lone surrogate": _case(b'{"message": "\\ud800"}'),
    "invalid utf-8": _case(b'{"message": "\xff\xfe"}'),
    "utf-8 BOM": _case(b'\xef\xbb\xbf{"message": "hi"}'),
    "no content type": _case({"message": "hi"}, []),
    "text/plain": _case({"message": "hi"}, [("content-type", "text/plain")]),
    "json with charset": _case(
        {"message": "hi"}, [("content-type", "application/json; charset=utf-8")]
    ),
    "json in capitals": _case({"message": "hi"}, [("content-type", "APPLICATION/JSON")]),
    "a +json type": _case({"message": "hi"}, [("content-type", "application/problem+json")]),
    "two slashes": _case({"message": "hi"}, [("content-type", "application/json/x")]),
    "spaces around": _case({"message": "hi"}, [("content-type", "  application/json ;x=1")]),
    "empty content type": _case({"message": "hi"}, [("content-type", "")]),
    "form type": _case(b"message=hi", [("content-type", "application/x-www-form-urlencoded")]),
    "origin too long": _case({"message": "hi"}, [*JSON, ("origin", "o" * 2049)]),
    "visitor token too long": _case({"message": "hi"}, [*JSON, ("x-visitor-token", "v" * 4097)]),
    "empty headers": _case({"message": "hi"}, [*JSON, ("origin", ""), ("x-visitor-token", "")]),
    "repeated header": _case({"message": "hi"}, [*JSON, ("origin", "a"), ("origin", "b")]),
    "unknown query": _case({"message": "hi"}, query="debug=1"),
    "unknown query and bad json": _case(b"{", query="debug=1"),
    "unknown query and bad field": _case({"message": ""}, query="x=1"),
    "deep nesting": _case(b'{"message": ' + b"[" * 5000 + b"]" * 5000 + b"}"),
    "profile": _case(None, [], route=PROFILE),
    "profile short token": _case(None, [], token="abc", route=PROFILE),
    "profile unknown query": _case(None, [], query="a=1&b=2", route=PROFILE),
    "profile with a body": _case({"message": "hi"}, route=PROFILE),
}


def _answer(handler: Any, event: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    result = handler(json.loads(json.dumps(event)), LambdaContext("t"))
    headers = {k: v for k, v in (result.get("headers") or {}).items() if k != "x-request-id"}
    body = result.get("body") or ""
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        parsed = body
    return result["statusCode"], headers, parsed


@pytest.mark.parametrize("name", list(CASES))
def test_a_prepared_route_answers_as_fastapi_does(name: str) -> None:
    event = CASES[name]
    expected = _answer(FASTAPI, event)
    assert expected[0] != 500, expected
    assert _answer(PREPARED, event) == expected


def test_the_cases_reach_both_outcomes() -> None:
    """The cases are worth comparing: answers and refusals both, of several kinds."""
    statuses = {_answer(FASTAPI, event)[0] for event in CASES.values()}
    assert {200, 404, 422} <= statuses


def _declare(endpoint: Any, path: str = "/v1/x/{a}", **kwargs: Any) -> None:
    router = api_router(tags=("t",), prepared=True)
    router.post(path, **kwargs)(endpoint)


def test_routes_it_does_not_read_are_refused_when_declared() -> None:
    async def with_query(a: str, q: int = 0) -> Response:
        return Response()

    async def returns_a_model(a: str) -> Echo:
        raise AssertionError

    def not_async(a: str) -> Response:
        return Response()

    async def list_header(a: str, x: Annotated[list[str] | None, Header()] = None) -> Response:
        return Response()

    async def wants_request_and_more(request: Request, a: str) -> None:
        return None

    from fastapi import Depends

    async def with_dependency(a: str, _: None = Depends(wants_request_and_more)) -> Response:
        return Response()

    for endpoint in (with_query, returns_a_model, not_async, list_header, with_dependency):
        with pytest.raises(TypeError, match="cannot be a PreparedRoute"):
            _declare(endpoint)
