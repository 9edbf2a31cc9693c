"""Payload 2.0 events, the Lambda context and proxy result parsing of the local runner."""

from __future__ import annotations

import base64
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from convoship_dev.lambda_events import (
    LambdaContext,
    authorizer_event,
    http_api_event,
    new_request_id,
    to_http_response,
)
from convoship_dev.template import FunctionSpec


def _event(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "method": "GET",
        "raw_path": "/v1/items/a%20b",
        "raw_query": "",
        "headers": [],
        "body": b"",
        "route_key": "GET /v1/items/{id}",
        "path_parameters": {},
        "authorizer_context": None,
    }
    args.update(overrides)
    event: dict[str, Any] = http_api_event(**args)
    return event


def test_event_top_level_shape() -> None:
    event = _event(
        raw_query="a=1&a=2&b=x%20y&c=d+e&flag",
        path_parameters={"id": "a b"},
        request_id="req-1",
    )
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /v1/items/{id}"
    assert event["rawPath"] == "/v1/items/a b"  # HTTP APIs pass the path decoded
    assert event["rawQueryString"] == "a=1&a=2&b=x%20y&c=d+e&flag"
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x y", "c": "d e", "flag": ""}
    assert event["pathParameters"] == {"id": "a b"}
    assert event["isBase64Encoded"] is False
    assert "body" not in event
    assert "cookies" not in event


def test_headers_are_lowercased_and_repeats_joined() -> None:
    event = _event(
        headers=[
            ("Content-Type", "application/json"),
            ("X-Multi", "a"),
            ("x-multi", "b"),
            ("User-Agent", "pytest/1"),
        ]
    )
    headers = event["headers"]
    assert headers["content-type"] == "application/json"
    assert headers["x-multi"] == "a,b"
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert all(name == name.lower() for name in headers)
    assert event["requestContext"]["http"]["userAgent"] == "pytest/1"


def test_cookies_are_split_and_removed_from_headers() -> None:
    event = _event(headers=[("Cookie", "a=1; b=2"), ("cookie", "c=3")])
    assert event["cookies"] == ["a=1", "b=2", "c=3"]
    assert "cookie" not in event["headers"]


def test_request_context() -> None:
    before = int(time.time() * 1000)
    event = _event(method="post", request_id="abc=", source_ip="10.1.2.3")
    ctx = event["requestContext"]
    assert ctx["accountId"] == "123456789012"
    assert ctx["apiId"] == "local"
    assert ctx["domainName"] == "localhost"
    assert ctx["stage"] == "$default"
    assert ctx["requestId"] == "abc="
    assert ctx["routeKey"] == "GET /v1/items/{id}"
    assert ctx["http"] == {
        "method": "POST",
        "path": "/v1/items/a b",
        "protocol": "HTTP/1.1",
        "sourceIp": "10.1.2.3",
        "userAgent": "",
    }
    assert re.fullmatch(r"\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000", ctx["time"])
    assert before <= ctx["timeEpoch"] <= int(time.time() * 1000)
    assert "authorizer" not in ctx


def test_authorizer_context_is_passed_as_lambda() -> None:
    event = _event(authorizer_context={"workspace_id": "w", "role": "owner"})
    assert event["requestContext"]["authorizer"] == {
        "lambda": {"workspace_id": "w", "role": "owner"}
    }


def test_text_body_stays_text() -> None:
    event = _event(headers=[("content-type", "application/json")], body=b'{"a": "\xc3\xa9"}')
    assert event["body"] == '{"a": "é"}'
    assert event["isBase64Encoded"] is False


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/octet-stream", b"plain ascii"),
        ("image/png", b"\x89PNG"),
        ("text/plain", b"\xff\xfe not utf-8"),
        ("", b"\xff"),
    ],
)
def test_binary_body_is_base64(content_type: str, body: bytes) -> None:
    headers = [("content-type", content_type)] if content_type else []
    event = _event(headers=headers, body=body)
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == body


def test_request_ids_look_like_api_gateway_ones() -> None:
    ids = {new_request_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(re.fullmatch(r"[A-Za-z0-9]{15}=", i) for i in ids)


def test_authorizer_event_shape() -> None:
    event = authorizer_event(
        "GET",
        "/v1/x",
        "q=1",
        [("Authorization", "Bearer t"), ("Cookie", "s=1"), ("X-Other", "o")],
        "GET /v1/x",
        {"id": "7"},
        ["Authorization"],
        request_id="rid=",
    )
    assert event["version"] == "2.0"
    assert event["type"] == "REQUEST"
    assert event["routeArn"] == "arn:aws:execute-api:us-east-1:123456789012:local/$default/GET/v1/x"
    assert event["identitySource"] == ["Bearer t"]
    assert event["routeKey"] == "GET /v1/x"
    assert event["rawPath"] == "/v1/x"
    assert event["rawQueryString"] == "q=1"
    assert event["cookies"] == ["s=1"]
    assert event["headers"]["authorization"] == "Bearer t"
    assert event["queryStringParameters"] == {"q": "1"}
    assert event["pathParameters"] == {"id": "7"}
    assert event["requestContext"]["requestId"] == "rid="
    assert "authorizer" not in event["requestContext"]
    assert "body" not in event


def test_lambda_context_from_function_spec() -> None:
    fn = FunctionSpec("ItemsFunction", Path("/x"), "m.h", timeout_s=25, memory_mb=1024)
    first, second = LambdaContext(fn), LambdaContext(fn)
    assert first.function_name == "ItemsFunction"
    assert first.function_version == "$LATEST"
    assert first.invoked_function_arn == (
        "arn:aws:lambda:us-east-1:123456789012:function:ItemsFunction"
    )
    assert first.memory_limit_in_mb == "1024"  # a string, as in the real runtime
    assert first.log_group_name == "/aws/lambda/ItemsFunction"
    assert "[$LATEST]" in first.log_stream_name
    assert first.aws_request_id != second.aws_request_id
    remaining = first.get_remaining_time_in_millis()
    assert 24_000 < remaining <= 25_000
    time.sleep(0.05)
    assert first.get_remaining_time_in_millis() < remaining


def test_lambda_context_never_goes_negative() -> None:
    ctx = LambdaContext("Quick", timeout_s=0)
    assert ctx.get_remaining_time_in_millis() == 0
    assert ctx.memory_limit_in_mb == "128"


def test_response_with_status_headers_and_cookies() -> None:
    status, headers, body = to_http_response(
        {
            "statusCode": 201,
            "headers": {"content-type": "application/json", "x-flag": True},
            "multiValueHeaders": {"x-multi": ["a", "b"]},
            "cookies": ["s=1; HttpOnly", "t=2"],
            "body": '{"ok": true}',
        }
    )
    assert status == 201
    assert ("content-type", "application/json") in headers
    assert ("x-flag", "true") in headers
    assert [v for k, v in headers if k == "x-multi"] == ["a", "b"]
    assert [v for k, v in headers if k == "set-cookie"] == ["s=1; HttpOnly", "t=2"]
    assert body == b'{"ok": true}'


def test_response_base64_body_is_decoded() -> None:
    raw = b"\x00\x01binary"
    encoded = base64.b64encode(raw).decode()
    status, _, body = to_http_response(
        {"statusCode": "200", "isBase64Encoded": True, "body": encoded}
    )
    assert (status, body) == (200, raw)


def test_response_without_body() -> None:
    assert to_http_response({"statusCode": 204}) == (204, [], b"")


def test_result_without_status_code_is_json_200() -> None:
    status, headers, body = to_http_response({"message": "hi", "body": "ignored?"})
    assert status == 200
    assert headers == [("content-type", "application/json")]
    assert json.loads(body) == {"message": "hi", "body": "ignored?"}
    assert to_http_response([1, 2])[2] == b"[1, 2]"
    assert to_http_response(None)[2] == b"null"


def test_string_result_is_the_body() -> None:
    assert to_http_response("Hello from Lambda!") == (
        200,
        [("content-type", "application/json")],
        b"Hello from Lambda!",
    )


def test_invalid_status_code_raises() -> None:
    with pytest.raises(ValueError, match="statusCode"):
        to_http_response({"statusCode": "nope"})
    with pytest.raises(ValueError, match="statusCode"):
        to_http_response({"statusCode": None})
