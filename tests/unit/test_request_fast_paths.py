"""What a request costs outside its route, cut without changing what goes out: a body
validated once (json_response) is the bytes and headers FastAPI's response_model would
write, the access line keeps its JSON message handling, Mangum builds the scope once."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest
from fastapi import Response
from mangum.handlers import HTTPGateway
from pydantic import ValidationError

from convoship.core.observability import logger
from convoship.http.app import create_app, make_handler
from convoship.http.models import ResponseModel
from convoship.http.responses import json_response
from convoship.http.routing import api_router
from convoship_dev.lambda_events import LambdaContext, http_api_event


class Inner(ResponseModel):
    count: int


class Out(ResponseModel):
    name: str
    note: str | None
    inner: Inner


BODY = {"name": "\u00e9t\u00e9 \U0001f600", "note": None, "inner": {"count": 3}}
HEADERS = {"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "59"}


def _answer(path: str) -> dict[str, Any]:
    router = api_router(tags=("t",))

    @router.post("/v1/model", response_model=Out)
    async def as_model(response: Response) -> Out:
        response.headers.update(HEADERS)
        return Out.model_validate(BODY)

    @router.post("/v1/prebuilt", response_model=Out)
    async def prebuilt() -> Response:
        return json_response(Out, BODY, HEADERS)

    handler = make_handler(create_app("t", [router]))
    headers = [("x-request-id", "r-1")]
    event = http_api_event("POST", path, "", headers, b"", f"POST {path}", {}, None)
    return handler(event, LambdaContext("t"))


def test_a_prebuilt_body_goes_out_as_fastapi_would_write_the_model() -> None:
    through_fastapi, prebuilt = _answer("/v1/model"), _answer("/v1/prebuilt")
    assert prebuilt["body"] == through_fastapi["body"]
    assert json.loads(prebuilt["body"]) == BODY
    assert list(prebuilt["headers"].items()) == list(through_fastapi["headers"].items())
    assert prebuilt["headers"]["content-type"] == "application/json"
    assert prebuilt["headers"]["x-ratelimit-remaining"] == "59"


def test_a_body_that_breaks_the_response_model_is_refused() -> None:
    with pytest.raises(ValidationError):
        json_response(Out, {"name": "x", "note": None, "inner": {"count": "many"}}, {})


@pytest.mark.parametrize(
    ("message", "logged"),
    [
        ("request", "request"),
        ('{"a": 1}', {"a": 1}),
        ("[1, 2]", [1, 2]),
        ("42", 42),
        ("42 items", "42 items"),
        ("not { json", "not { json"),
        ("", ""),
    ],
)
def test_a_log_message_that_spells_json_is_logged_as_json_and_any_other_as_text(
    message: str, logged: Any
) -> None:
    seen = io.StringIO()
    listener = logging.StreamHandler(seen)
    listener.setFormatter(logger.registered_formatter)
    logger.addHandler(listener)
    try:
        logger.info(message, extra={"status": 200})
    finally:
        logger.removeHandler(listener)
    line = json.loads(seen.getvalue())
    assert line["message"] == logged
    assert line["status"] == 200 and line["level"] == "INFO"


def test_the_scope_of_an_event_is_built_once(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[int] = []
    real = HTTPGateway.scope.fget
    assert real is not None

    def counting(self: Any) -> Any:
        built.append(1)
        return real(self)

    monkeypatch.setattr(HTTPGateway, "scope", property(counting))
    result = _answer("/v1/prebuilt")
    assert result["statusCode"] == 200 and result["headers"]["x-request-id"] == "r-1"
    assert len(built) == 1


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("ticket-42.a_b", True), ("abc\n", False), ("a" * 128, True), ("a" * 128 + "\n", False),
     ("a" * 129, False), ("a b", False), ("", False)],
)  # fmt: skip
def test_a_client_request_id_is_kept_only_when_the_whole_value_is_a_short_safe_token(
    sent: str, kept: bool
) -> None:
    from convoship.http.app import RequestIdMiddleware

    class Context:
        aws_request_id = "lambda-request-1"

    scope = {"headers": [(b"x-request-id", sent.encode())], "aws.context": Context()}
    chosen = RequestIdMiddleware._request_id(scope)
    assert chosen == (sent if kept else "lambda-request-1")
