"""What a model provider sends is made storable, or refused as an upstream failure, never
left to fail later as a 500: lone surrogates and NUL become U+FFFD, NaN / Infinity / 1e400
and nesting too deep for the parser are not JSON (found by the issue 11 fuzzer's hostile
tool arguments)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from convoship.core.errors import UpstreamUnavailable
from convoship.core.json_text import parse_json, parse_storable_json, storable
from convoship.llm.jsonhttp import parse_arguments
from convoship.llm.openai import OpenAIChat
from convoship.llm.types import Message, Sampling


class _Provider(BaseHTTPRequestHandler):
    answer = b"{}"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(self.answer)))
        self.end_headers()
        self.wfile.write(self.answer)


@pytest.fixture(scope="module")
def provider() -> Iterator[type[_Provider]]:
    handler = type("Provider", (_Provider,), {})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    handler.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"  # type: ignore[attr-defined]
    yield handler
    httpd.shutdown()
    httpd.server_close()


def complete(provider: type[_Provider], answer: bytes) -> Any:
    provider.answer = answer
    model = OpenAIChat(
        model="m",
        base_url=provider.url,  # type: ignore[attr-defined]
        api_key=None,
        timeout_s=5,
        allow_private=True,
        provider="openai_compatible",
    )
    return model.complete(
        [Message("user", "hi")], tools=[], sampling=Sampling(temperature=0.0, max_output_tokens=50)
    )


def answer(content: str, arguments: str | None = None) -> bytes:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if arguments is not None:
        function = {"name": "lookup", "arguments": arguments}
        message["tool_calls"] = [{"id": "c1", "type": "function", "function": function}]
    return json.dumps({"choices": [{"message": message}], "usage": {}}).encode()


def test_lone_surrogates_and_nul_in_a_reply_become_replacement_characters(
    provider: type[_Provider],
) -> None:
    completion = complete(provider, answer("a\ud800b\x00c\udfff"))
    assert completion.text == "a\ufffdb\ufffdc\ufffd"
    completion.text.encode()  # what failed before: the transcript write, the response


def test_lone_surrogates_and_nul_in_tool_arguments_become_replacement_characters(
    provider: type[_Provider],
) -> None:
    arguments = json.dumps({"q": "\ud800", "k\x00": ["\udc00"]})  # escaped twice on the wire
    (call,) = complete(provider, answer("", arguments)).tool_calls
    assert call.arguments == {"q": "\ufffd", "k\ufffd": ["\ufffd"]}


@pytest.mark.parametrize(
    "arguments",
    ['{"q": NaN}', '{"q": Infinity}', '{"q": 1e400}', "[" * 5000, '{"q": 1' + "0" * 5000 + "}"],
    ids=["NaN", "Infinity", "1e400", "deep", "digits"],
)
def test_arguments_that_are_not_json_are_no_object(
    provider: type[_Provider], arguments: str
) -> None:
    (call,) = complete(provider, answer("", arguments)).tool_calls
    assert call.arguments is None and call.raw_arguments == arguments


@pytest.mark.parametrize(
    "body", [b"[" * 100_000, b'{"choices": NaN}', b'{"choices": [{"message": {"content": 1e999}}]}']
)
def test_a_provider_body_that_is_not_json_is_an_upstream_failure(
    provider: type[_Provider], body: bytes
) -> None:
    with pytest.raises(UpstreamUnavailable):
        complete(provider, body)


def test_parse_json_fails_only_with_value_error() -> None:
    for text in ("[" * 100_000, "NaN", "-Infinity", "1e400", "1" * 5000, '"\\ud800'):
        with pytest.raises(ValueError):
            parse_json(text)
    assert parse_json('["\\ud83d\\ude00", 1.5]') == ["\U0001f600", 1.5]


def test_storable_keeps_pairs_and_ordinary_text() -> None:
    value = {"a": ["\U0001f600", "x\ud800"], "b\x00": {"c": "ok"}}
    assert storable(value) == {"a": ["\U0001f600", "x\ufffd"], "b\ufffd": {"c": "ok"}}
    assert parse_storable_json(b'{"k": "\\u0000\\ud800\\ud83d\\ude00"}') == {
        "k": "\ufffd\ufffd\U0001f600"
    }
    assert parse_arguments({"q": 1}) == ({"q": 1}, '{"q": 1}')
