"""The local API Gateway emulator end to end, over a fixture template and fixture handlers."""

from __future__ import annotations

import http.client
import json
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from convoship_dev.server import GatewayServer, make_server
from convoship_dev.template import load_template

AUTHZ = f"fx_authz_{uuid.uuid4().hex}"
ECHO = f"fx_echo_{uuid.uuid4().hex}"

TEMPLATE = f"""\
Transform: AWS::Serverless-2016-10-31
Parameters:
  Origins:
    Type: CommaDelimitedList
    Default: "https://studio.test,https://other.test"
Globals:
  Function:
    Timeout: 7
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      CorsConfiguration:
        AllowOrigins: !Ref Origins
        AllowHeaders: [authorization, content-type]
        AllowMethods: [GET, POST]
        ExposeHeaders: [x-request-id]
        MaxAge: 60
      Auth:
        DefaultAuthorizer: Tok
        Authorizers:
          Tok:
            FunctionArn: !GetAtt AuthFn.Arn
            AuthorizerPayloadFormatVersion: "2.0"
            EnableSimpleResponses: true
            Identity:
              Headers: [Authorization]
  AuthFn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: authz
      Handler: {AUTHZ}.handler
  EchoFn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: echo
      Handler: {ECHO}.handler
      Events:
        Get:
          Type: HttpApi
          Properties: {{ApiId: !Ref Api, Method: GET, Path: "/v1/items/{{id}}"}}
        Post:
          Type: HttpApi
          Properties: {{ApiId: !Ref Api, Method: POST, Path: /v1/items}}
        Public:
          Type: HttpApi
          Properties:
            ApiId: !Ref Api
            Method: GET
            Path: /public
            Auth: {{Authorizer: NONE}}
        Boom:
          Type: HttpApi
          Properties:
            ApiId: !Ref Api
            Method: GET
            Path: /boom
            Auth: {{Authorizer: NONE}}
"""

AUTHZ_CODE = """\
CALLS = []


def handler(event, context):
    CALLS.append(event)
    token = event["headers"].get("authorization")
    if token == "explode":
        raise RuntimeError("authorizer failed")
    if token == "good":
        return {"isAuthorized": True, "context": {"user_id": "u1", "workspace_id": "w1"}}
    return {"isAuthorized": False}
"""

ECHO_CODE = """\
import json


def handler(event, context):
    if event["rawPath"] == "/boom":
        raise RuntimeError("handler failed")
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json", "access-control-allow-origin": "*"},
        "cookies": ["session=1; HttpOnly"],
        "body": json.dumps(
            {"event": event, "remaining": context.get_remaining_time_in_millis()}
        ),
    }
"""


@dataclass
class Reply:
    status: int
    headers: Message
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayServer]:
    root = tmp_path_factory.mktemp("runner")
    (root / "authz").mkdir()
    (root / "echo").mkdir()
    (root / "authz" / f"{AUTHZ}.py").write_text(AUTHZ_CODE)
    (root / "echo" / f"{ECHO}.py").write_text(ECHO_CODE)
    (root / "template.yaml").write_text(TEMPLATE)
    gateway = make_server(load_template(root / "template.yaml"), "127.0.0.1", 0)
    thread = threading.Thread(target=gateway.serve_forever, daemon=True)
    thread.start()
    yield gateway
    gateway.shutdown()
    gateway.server_close()
    thread.join(timeout=5)
    for name in (AUTHZ, ECHO):
        sys.modules.pop(name, None)
    for code_dir in (root / "authz", root / "echo"):
        if str(code_dir) in sys.path:
            sys.path.remove(str(code_dir))


def _call(
    server: GatewayServer,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> Reply:
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(str(host), int(port), timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        conn.close()


def _authorizer_calls() -> int:
    module = sys.modules.get(AUTHZ)
    return len(module.CALLS) if module is not None else 0


def test_unknown_route_is_404(server: GatewayServer) -> None:
    reply = _call(server, "GET", "/nope")
    assert reply.status == 404
    assert reply.json() == {"message": "Not Found"}
    assert reply.headers["apigw-requestid"]


def test_method_mismatch_is_404(server: GatewayServer) -> None:
    reply = _call(server, "DELETE", "/v1/items", {"authorization": "good"})
    assert reply.status == 404
    assert reply.json() == {"message": "Not Found"}


def test_missing_identity_is_401_without_calling_the_authorizer(server: GatewayServer) -> None:
    before = _authorizer_calls()
    for headers in ({}, {"Authorization": ""}):
        reply = _call(server, "GET", "/v1/items/1", headers)
        assert reply.status == 401
        assert reply.json() == {"message": "Unauthorized"}
        assert reply.headers["apigw-requestid"]
    assert _authorizer_calls() == before


def test_denying_authorizer_is_403(server: GatewayServer) -> None:
    reply = _call(server, "GET", "/v1/items/1", {"Authorization": "bad"})
    assert reply.status == 403
    assert reply.json() == {"message": "Forbidden"}
    assert reply.headers["apigw-requestid"]


def test_failing_authorizer_is_500_as_api_gateway_answers_it(
    server: GatewayServer, capfd: pytest.CaptureFixture[str]
) -> None:
    reply = _call(server, "GET", "/v1/items/1", {"Authorization": "explode"})
    assert reply.status == 500
    assert reply.json() == {"message": "Internal Server Error"}
    assert "authorizer failed" in capfd.readouterr().err


def test_authorized_request_reaches_the_function(server: GatewayServer) -> None:
    reply = _call(
        server,
        "GET",
        "/v1/items/a%20b?x=1&x=2",
        {"Authorization": "good", "Cookie": "c1=v1; c2=v2", "X-Trace": "t"},
    )
    assert reply.status == 200
    assert reply.headers.get_all("set-cookie") == ["session=1; HttpOnly"]
    payload = reply.json()
    event = payload["event"]
    assert event["requestContext"]["authorizer"]["lambda"] == {
        "user_id": "u1",
        "workspace_id": "w1",
    }
    assert event["routeKey"] == "GET /v1/items/{id}"
    assert event["pathParameters"] == {"id": "a b"}
    assert event["queryStringParameters"] == {"x": "1,2"}
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert event["headers"]["x-trace"] == "t"
    assert event["requestContext"]["requestId"] == reply.headers["apigw-requestid"]
    assert 6_000 < payload["remaining"] <= 7_000
    authz_event = sys.modules[AUTHZ].CALLS[-1]
    assert authz_event["type"] == "REQUEST"
    assert authz_event["identitySource"] == ["good"]


def test_post_body_reaches_the_function(server: GatewayServer) -> None:
    reply = _call(
        server,
        "POST",
        "/v1/items",
        {"Authorization": "good", "Content-Type": "application/json"},
        body=b'{"name": "x"}',
    )
    assert reply.status == 200
    event = reply.json()["event"]
    assert event["body"] == '{"name": "x"}'
    assert event["isBase64Encoded"] is False
    assert event["requestContext"]["http"]["method"] == "POST"


def test_route_without_authorizer(server: GatewayServer, capfd: pytest.CaptureFixture[str]) -> None:
    before = _authorizer_calls()
    reply = _call(server, "GET", "/public")
    assert reply.status == 200
    assert "authorizer" not in reply.json()["event"]["requestContext"]
    assert _authorizer_calls() == before
    assert "GET /public 200" in capfd.readouterr().err


def test_handler_exception_is_500(server: GatewayServer, capfd: pytest.CaptureFixture[str]) -> None:
    reply = _call(server, "GET", "/boom")
    assert reply.status == 500
    assert reply.json() == {"message": "Internal Server Error"}
    assert reply.headers["apigw-requestid"]
    err = capfd.readouterr().err
    assert "RuntimeError: handler failed" in err
    assert "GET /boom 500" in err


def test_cors_preflight_is_answered_by_the_gateway(server: GatewayServer) -> None:
    before = _authorizer_calls()
    reply = _call(
        server,
        "OPTIONS",
        "/v1/items",
        {"Origin": "https://studio.test", "Access-Control-Request-Method": "POST"},
    )
    assert reply.status == 204
    assert reply.body == b""
    assert reply.headers["access-control-allow-origin"] == "https://studio.test"
    assert reply.headers["access-control-allow-methods"] == "GET,POST"
    assert reply.headers["access-control-allow-headers"] == "authorization,content-type"
    assert reply.headers["access-control-max-age"] == "60"
    assert _authorizer_calls() == before


def test_cors_preflight_from_unknown_origin_gets_no_allow_origin(server: GatewayServer) -> None:
    reply = _call(
        server,
        "OPTIONS",
        "/v1/items",
        {"Origin": "https://evil.test", "Access-Control-Request-Method": "POST"},
    )
    assert reply.status == 204
    assert "access-control-allow-origin" not in reply.headers


def test_options_without_preflight_headers_is_routed(server: GatewayServer) -> None:
    reply = _call(server, "OPTIONS", "/v1/items", {"Origin": "https://studio.test"})
    assert reply.status == 404


def test_cors_headers_of_the_integration_are_replaced(server: GatewayServer) -> None:
    reply = _call(server, "GET", "/public", {"Origin": "https://other.test"})
    assert reply.headers.get_all("access-control-allow-origin") == ["https://other.test"]
    assert reply.headers["access-control-expose-headers"] == "x-request-id"
    reply = _call(server, "GET", "/public", {"Origin": "https://evil.test"})
    assert reply.status == 200
    assert "access-control-allow-origin" not in reply.headers


def test_refuses_non_loopback_hosts(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text("Resources: {}\n")
    template = load_template(tmp_path / "template.yaml")
    with pytest.raises(ValueError, match="refusing"):
        make_server(template, "192.0.2.10", 0)
