"""API Gateway HTTP API (payload 2.0) events, a Lambda context, and proxy result parsing."""

from __future__ import annotations

import base64
import json
import secrets
import string
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

from convoship_dev.template import FunctionSpec

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
API_ID = "local"
STAGE = "$default"
DOMAIN = "localhost"

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_TEXT_MARKERS = ("json", "xml", "javascript", "x-www-form-urlencoded", "graphql", "yaml", "csv")
_ID_ALPHABET = string.ascii_letters + string.digits

Headers = list[tuple[str, str]]


def new_request_id() -> str:
    """A request id shaped like API Gateway's (16 characters ending in "=")."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(15)) + "="


def _clock() -> tuple[str, int]:
    """The request time as API Gateway formats it, and the epoch in milliseconds."""
    now = datetime.now(UTC)
    stamp = f"{now:%d}/{_MONTHS[now.month - 1]}/{now:%Y:%H:%M:%S} +0000"
    return stamp, int(now.timestamp() * 1000)


def _split_headers(headers: Headers) -> tuple[dict[str, str], list[str]]:
    """Lower-case header names, join repeats with ",", and take cookies out."""
    joined: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    return joined, cookies


def _query_parameters(raw_query: str) -> dict[str, str]:
    """Decoded query parameters, repeated keys joined with ","."""
    params: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        params[key] = f"{params[key]},{value}" if key in params else value
    return params


def _is_binary(content_type: str) -> bool:
    """Tell whether API Gateway would base64-encode a body of this content type."""
    media = content_type.split(";", 1)[0].strip().lower()
    if not media or media.startswith("text/"):
        return False
    return not any(marker in media for marker in _TEXT_MARKERS)


def _request_context(
    method: str,
    path: str,
    route_key: str,
    headers: dict[str, str],
    source_ip: str,
    request_id: str | None,
) -> dict[str, Any]:
    """The requestContext shared by function and authorizer events."""
    stamp, epoch_ms = _clock()
    return {
        "accountId": ACCOUNT_ID,
        "apiId": API_ID,
        "domainName": DOMAIN,
        "domainPrefix": DOMAIN,
        "http": {
            "method": method.upper(),
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request_id or new_request_id(),
        "routeKey": route_key,
        "stage": STAGE,
        "time": stamp,
        "timeEpoch": epoch_ms,
    }


def _common(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Headers,
    route_key: str,
    path_parameters: dict[str, str],
    source_ip: str,
    request_id: str | None,
) -> dict[str, Any]:
    """Fields shared by the function and the authorizer payload 2.0 events."""
    joined, cookies = _split_headers(headers)
    xff = joined.get("x-forwarded-for")
    joined["x-forwarded-for"] = f"{xff}, {source_ip}" if xff else source_ip
    joined.setdefault("x-forwarded-proto", "http")
    # HTTP APIs hand the path over percent-decoded (rawPath and http.path alike).
    path = unquote(raw_path.split("?", 1)[0]) or "/"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = joined
    query = _query_parameters(raw_query)
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = _request_context(
        method, path, route_key, joined, source_ip, request_id
    )
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    return event


def http_api_event(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Headers,
    body: bytes,
    route_key: str,
    path_parameters: dict[str, str],
    authorizer_context: dict[str, Any] | None,
    source_ip: str = "127.0.0.1",
    request_id: str | None = None,
) -> dict[str, Any]:
    """Build the payload 2.0 event API Gateway sends a Lambda proxy integration."""
    event = _common(
        method, raw_path, raw_query, headers, route_key, path_parameters, source_ip, request_id
    )
    if authorizer_context is not None:
        event["requestContext"]["authorizer"] = {"lambda": authorizer_context}
    if body:
        content_type = event["headers"].get("content-type", "")
        try:
            text = None if _is_binary(content_type) else body.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        event["body"] = text if text is not None else base64.b64encode(body).decode("ascii")
        event["isBase64Encoded"] = text is None
    else:
        event["isBase64Encoded"] = False
    return event


def authorizer_event(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Headers,
    route_key: str,
    path_parameters: dict[str, str],
    identity_headers: list[str],
    source_ip: str = "127.0.0.1",
    request_id: str | None = None,
) -> dict[str, Any]:
    """Build the payload 2.0 REQUEST event API Gateway sends a Lambda authorizer."""
    event = _common(
        method, raw_path, raw_query, headers, route_key, path_parameters, source_ip, request_id
    )
    joined: dict[str, str] = event["headers"]
    route_arn = (
        f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{API_ID}/{STAGE}/"
        f"{method.upper()}{event['rawPath']}"
    )
    identity = [joined.get(h.lower(), "") for h in identity_headers]
    return {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": route_arn,
        "identitySource": identity,
        **{k: v for k, v in event.items() if k != "version"},
    }


class LambdaContext:
    """The context object a Python Lambda handler receives (as awslambdaric builds it)."""

    def __init__(
        self,
        function: FunctionSpec | str,
        *,
        timeout_s: int | None = None,
        memory_mb: int | None = None,
    ) -> None:
        """Describe one invocation of a function (a FunctionSpec or a bare name)."""
        if isinstance(function, FunctionSpec):
            name = function.logical_id
            timeout_s = function.timeout_s if timeout_s is None else timeout_s
            memory_mb = function.memory_mb if memory_mb is None else memory_mb
        else:
            name = function
        timeout_s = 3 if timeout_s is None else timeout_s
        memory_mb = 128 if memory_mb is None else memory_mb
        today = datetime.now(UTC)
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"
        # The real runtime reads this from an environment variable: it is a string there too.
        self.memory_limit_in_mb = str(memory_mb)
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = f"{today:%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        self.client_context: Any = None
        self.identity: Any = None
        self.tenant_id: str | None = None
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function's Timeout, never below zero."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))

    def __repr__(self) -> str:
        """Name the function and request, like the runtime's context."""
        return f"LambdaContext({self.function_name}, {self.aws_request_id})"


def _header_value(value: Any) -> str:
    """Render a response header value the way a JSON scalar becomes a header."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def to_http_response(result: Any) -> tuple[int, Headers, bytes]:
    """Interpret a Lambda result as API Gateway does for payload format 2.0."""
    if not (isinstance(result, dict) and "statusCode" in result):
        text = result if isinstance(result, str) else json.dumps(result)
        return 200, [("content-type", "application/json")], text.encode("utf-8")
    try:
        status = int(result["statusCode"])
    except (TypeError, ValueError) as exc:
        raise ValueError(f"invalid statusCode {result['statusCode']!r}") from exc
    headers: Headers = []
    for name, value in (result.get("headers") or {}).items():
        headers.append((str(name), _header_value(value)))
    for name, values in (result.get("multiValueHeaders") or {}).items():
        for value in values if isinstance(values, list) else [values]:
            headers.append((str(name), _header_value(value)))
    for cookie in result.get("cookies") or []:
        headers.append(("set-cookie", str(cookie)))
    body: Any = result.get("body")
    if body is None:
        raw = b""
    elif isinstance(body, str):
        raw = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode("utf-8")
    else:
        raw = json.dumps(body).encode("utf-8")
    return status, headers, raw
