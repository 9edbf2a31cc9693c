"""The runtime's pure parts: grading, assertions, provider wire formats, visitor tokens,
tool templating, and outbound HTTP limits against loopback servers."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit
from uuid import uuid4

import pytest

from convoship.core.errors import UpstreamUnavailable
from convoship.llm import anthropic, bedrock, openai
from convoship.llm.types import Message, Sampling, ToolCall, ToolDef
from convoship.publish.gate import judge, parse_grade
from convoship.runtime.tool_calls import ToolError, _request_parts, call_http_tool
from convoship.secrets.store import SealedSecret
from convoship.secrets.vault import HostRefused, SecretVault
from convoship.security import outbound, visitor_tokens
from convoship.security.crypto import encrypt_at_rest, secret_context
from convoship.security.data_keys import new_data_key
from convoship.studio.tool_spec import HttpToolConfig

SAMPLING = Sampling(temperature=1.5, max_output_tokens=64)
TOOLS = [ToolDef("lookup", "Find", {"type": "object", "properties": {"id": {"type": "string"}}})]
CALL = ToolCall("c1", "lookup", {"id": "7"}, '{"id": "7"}')
CONVERSATION = [
    Message("system", "Be brief"),
    Message("user", "where is 7?"),
    Message("assistant", "", tool_calls=(CALL,)),
    Message("tool", "shipped", tool_call_id="c1", name="lookup"),
]


@pytest.mark.parametrize(
    ("answer", "passed", "reason"),
    [
        ("PASS", True, ""),
        ("PASS: polite and short", True, "polite and short"),
        ("**FAIL** too long", False, "too long"),
        ("fail", False, "the grader answered FAIL"),
        ("I think it passes", False, "I think it passes"),
        ("PASSED", False, "PASSED"),
        ("", False, "the grader gave no answer"),
    ],
)
def test_parse_grade(answer: str, passed: bool, reason: str) -> None:
    assert parse_grade(answer) == (passed, reason)


def test_plain_assertions() -> None:
    model: Any = None
    assert judge(model, "contains", "ship", "it shipped")[0]
    assert not judge(model, "contains", "Ship", "it shipped")[0]  # case matters
    assert judge(model, "not_contains", "refund", "it shipped")[0]
    assert judge(model, "equals", "yes", "  yes\n")[0]
    assert judge(model, "regex", r"\d{3}", "code 123")[0]
    passed, reason = judge(model, "regex", r"(?P<x", "anything")
    assert not passed and "not valid" in str(reason)


def test_openai_wire_format() -> None:
    body = openai.request_body("gpt-x", CONVERSATION, TOOLS, SAMPLING)
    assert body["max_tokens"] == 64 and body["temperature"] == 1.5
    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "tool"]
    assert body["messages"][2]["tool_calls"][0]["function"] == {
        "name": "lookup",
        "arguments": '{"id": "7"}',
    }
    assert body["tools"][0]["function"]["parameters"] == TOOLS[0].parameters
    completion = openai.parse_completion(
        {
            "choices": [
                {
                    "message": {
                        "content": None,
                        "tool_calls": [
                            {"id": "x", "function": {"name": "lookup", "arguments": "[1]"}}
                        ],
                    }
                }
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 4},
        }
    )
    assert completion.tool_calls[0].arguments is None  # not an object: the runtime refuses it
    assert (completion.input_tokens, completion.output_tokens) == (3, 4)
    with pytest.raises(UpstreamUnavailable):
        openai.parse_completion({"choices": []})


def test_anthropic_wire_format() -> None:
    body = anthropic.request_body("claude-x", CONVERSATION, TOOLS, SAMPLING)
    assert body["system"] == "Be brief" and body["temperature"] == 1.0
    assert [t["role"] for t in body["messages"]] == ["user", "assistant", "user"]
    assert body["messages"][1]["content"][0] == {
        "type": "tool_use",
        "id": "c1",
        "name": "lookup",
        "input": {"id": "7"},
    }
    assert body["messages"][2]["content"][0]["type"] == "tool_result"
    completion = anthropic.parse_completion(
        {
            "content": [{"type": "text", "text": "On "}, {"type": "text", "text": "its way"}],
            "usage": {"input_tokens": 5, "output_tokens": 2},
        }
    )
    assert completion.text == "On its way" and completion.input_tokens == 5


def test_bedrock_wire_format() -> None:
    kwargs = bedrock.request_kwargs("anthropic.claude", CONVERSATION, TOOLS, SAMPLING)
    assert kwargs["system"] == [{"text": "Be brief"}]
    assert kwargs["inferenceConfig"] == {"maxTokens": 64, "temperature": 1.0}
    assert kwargs["messages"][1]["content"][0]["toolUse"]["toolUseId"] == "c1"
    assert kwargs["messages"][2]["content"][0]["toolResult"]["content"] == [{"text": "shipped"}]
    assert kwargs["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"]["json"]["type"] == "object"
    completion = bedrock.parse_completion(
        {
            "output": {
                "message": {
                    "content": [{"toolUse": {"toolUseId": "t", "name": "lookup", "input": {}}}]
                }
            },
            "usage": {"inputTokens": 9, "outputTokens": 1},
        }
    )
    assert completion.tool_calls[0].arguments == {} and completion.input_tokens == 9


@pytest.mark.parametrize(
    ("left", "timeout"),
    [(100.0, 25.0), (25.0, 25.0), (24.9, 24.0), (3.5, 3.0), (1.2, 1.0), (0.4, 1.0), (-2.0, 1.0)],
)
def test_a_bedrock_call_waits_no_longer_than_the_turn_has_left(left: float, timeout: float) -> None:
    """boto3 takes its timeouts per client: the call's is the model's, cut to what the turn's
    deadline leaves, in whole seconds (a bounded number of clients), at least one."""
    assert bedrock.call_timeout(25.0, left) == timeout


def test_a_bedrock_client_under_a_turn_deadline_has_its_timeouts_cut(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import time

    from convoship.security.outbound import deadline_for_calls

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    bedrock._clients.clear()
    config = bedrock.client_for_call(25.0).meta.config
    assert (config.read_timeout, config.connect_timeout) == (25.0, 5.0)
    with deadline_for_calls(time.monotonic() + 10_000):  # far: the model's own timeout
        assert bedrock.client_for_call(25.0).meta.config.read_timeout == 25.0
    with deadline_for_calls(time.monotonic() - 1):  # passed: the least a call may take
        config = bedrock.client_for_call(25.0).meta.config
    assert (config.read_timeout, config.connect_timeout) == (1.0, 1.0)
    assert sorted(bedrock._clients) == [1.0, 25.0]


K = "visitor-signing-key-" + "k" * 32


def test_visitor_tokens() -> None:
    token = visitor_tokens.sign({"sub": "v-1", "exp": time.time() + 60}, K)
    assert visitor_tokens.verify(token, K)["sub"] == "v-1"
    for bad, secret in (
        (token, "other-" + K),
        (visitor_tokens.sign({"sub": "v"}, K), K),
        (visitor_tokens.sign({"exp": 1}, K), K),
        (visitor_tokens.sign({"exp": True}, K), K),
        (token[:-2], K),
        ("a.b", K),
        ("x" * 5000, K),
        (token.replace(token.split(".")[0], "eyJhbGciOiJub25lIn0"), K),  # alg none
    ):
        with pytest.raises(visitor_tokens.InvalidVisitorToken):
            visitor_tokens.verify(bad, secret)


def _vault(values: dict[str, str], hosts: list[str]) -> SecretVault:
    """A vault as if it had read its secrets already (sealed, allowed on hosts)."""
    workspace = uuid4()
    vault = SecretVault(workspace, values)
    key = new_data_key(workspace, 1)
    vault._sealed = {
        name: SealedSecret(encrypt_at_rest(value, secret_context(workspace, name), key), hosts, key)
        for name, value in values.items()
    }
    return vault


def test_tool_templating() -> None:
    vault = _vault({"KEY": "a/b c"}, ["x.test"])
    get = HttpToolConfig.model_validate(
        {"method": "GET", "url": "https://x.test/o/{{id}}?k={{secret:KEY}}", "headers": {}}
    )
    url, headers, body = _request_parts(get, {"id": "1 2", "extra": True}, vault)
    assert url == "https://x.test/o/1%202?k=a%2Fb%20c&extra=true" and body is None
    post = HttpToolConfig.model_validate(
        {
            "method": "POST",
            "url": "https://x.test/",
            "headers": {"X-Key": "{{secret:KEY}}"},
            "body": {"n": "{{n}}", "text": "n is {{n}}"},
        }
    )
    url, headers, body = _request_parts(post, {"n": 3}, vault)
    assert headers["X-Key"] == "a/b c" and json.loads(body or b"") == {"n": 3, "text": "n is 3"}
    bare = HttpToolConfig.model_validate({"method": "POST", "url": "https://x.test/"})
    assert json.loads(_request_parts(bare, {"q": "x"}, vault)[2] or b"") == {"q": "x"}
    assert vault.scrub('{"k": "a/b c", "u": "a%2Fb%20c"}') == '{"k": "[secret]", "u": "[secret]"}'


@pytest.mark.parametrize(
    "url",
    [
        "https://{{host}}/o",
        "https://x.test{{host}}/o",
        "https://{{host}}.x.test/o",  # allowed by no wildcard here
        "https://x.test:{{host}}/o",  # a port is fine; the host stays x.test
    ],
)
def test_the_templated_host_is_checked_before_any_secret_leaves(url: str) -> None:
    vault = _vault({"KEY": "a/b c"}, ["x.test"])
    config = HttpToolConfig.model_validate(
        {"method": "GET", "url": url, "headers": {"X-Key": "{{secret:KEY}}"}}
    )
    for host in ("evil.test", ".evil.test", "127.0.0.1", "x.test@evil.test", "x.test%2F@evil"):
        try:
            url_sent = _request_parts(config, {"host": host}, vault)[0]
        except (ToolError, HostRefused):
            continue  # refused
        assert urlsplit(url_sent).hostname == "x.test", (url, host)


class _Slow(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/big":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"x" * 100_000)
        elif self.path == "/redirect":
            self.send_response(302)
            self.send_header("location", "http://169.254.169.254/")
            self.end_headers()
        else:
            time.sleep(1.5)
            self.send_response(200)
            self.end_headers()


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_outbound_limits(server: str) -> None:
    call = {"timeout_s": 0.3, "max_bytes": 1000, "allow_private": True}
    with pytest.raises(outbound.OutboundError, match="larger than"):
        outbound.request("GET", server + "/big", **call)  # type: ignore[arg-type]
    cut = outbound.request("GET", server + "/big", truncate=True, **call)  # type: ignore[arg-type]
    assert cut.truncated and len(cut.body) == 1000
    with pytest.raises(outbound.OutboundError, match="did not answer"):
        outbound.request("GET", server + "/slow", **call)  # type: ignore[arg-type]
    redirect = outbound.request("GET", server + "/redirect", **call)  # type: ignore[arg-type]
    assert redirect.status == 302  # returned as is, never followed
    with pytest.raises(outbound.OutboundError, match="refused"):
        outbound.request("GET", server + "/", timeout_s=1, max_bytes=10, allow_private=False)
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(outbound.OutboundError):
        outbound.request("GET", f"http://127.0.0.1:{port}/", **call)  # type: ignore[arg-type]


def test_openai_itself_gets_max_completion_tokens() -> None:
    body = openai.request_body(
        "o4", CONVERSATION, [], SAMPLING, limit_field="max_completion_tokens"
    )
    assert body["max_completion_tokens"] == 64 and "max_tokens" not in body


@pytest.mark.parametrize("name", ["Host", "host", "HOST"])
def test_no_tool_chooses_its_host_header(name: str) -> None:
    """Host: another site behind the allowed host's CDN would be domain fronting."""
    config = {"method": "GET", "url": "https://x.test/", "headers": {name: "evil.test"}}
    with pytest.raises(ValueError, match="Host"):
        HttpToolConfig.model_validate(config)
    saved_earlier = {"name": "t", "config": config, "input_schema": {"type": "object"}}
    result = call_http_tool(saved_earlier, {}, _vault({}, []), allow_private=False)
    assert not result.ok and "refused" in result.content and "headers" in result.content
