"""A deterministic language model on loopback, speaking the OpenAI Chat Completions and
Anthropic Messages wire formats: for tests, benchmarks and offline local development.

What it answers depends only on the request, so tests can script a conversation:
- `call:TOOL {"json": "args"}` in the last user message: it calls TOOL (when offered), then
  answers `tool said: <result>` once the result comes back;
- `fail:500` (any status), `fail:garbage` (not JSON), `sleep:MS`: failures and latency;
  `fail-after-tool:500`: the call that reads a tool's result fails (the first one spent);
- a grading request (system prompt starting "You grade"): `PASS ...`, unless the rubric
  says ALWAYS_FAIL (`FAIL ...`) or GIBBERISH (an answer without a verdict);
- anything else: `echo: <last user message>`.
Usage is counted as characters / 4. Every request is recorded (headers, body) and the
highest number of requests in flight at once is kept, for concurrency assertions. Clients
may keep connections alive (HTTP/1.1): `connections` counts the TCP connections accepted
since the last reset, and stopping the server closes the ones still open.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_CALL = re.compile(r"call:([A-Za-z_][A-Za-z0-9_-]*)\s*(\{.*\})?", re.S)
_FAIL = re.compile(r"fail:(\d{3}|garbage)")
_FAIL_AFTER_TOOL = re.compile(r"fail-after-tool:(\d{3})")
_SLEEP = re.compile(r"sleep:(\d+)")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 drops concurrent connects (1 s SYN retries)

    def __init__(self, address: tuple[str, int], handler: Any) -> None:
        super().__init__(address, handler)
        self.accepted = 0
        self.open: set[socket.socket] = set()
        self.lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.lock:
            self.accepted += 1
            self.open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.lock:
            self.open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End every kept-alive connection: a stopped model must not answer on them."""
        with self.lock:
            still_open = list(self.open)
        for sock in still_open:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


def _object_or_empty(text: str) -> dict[str, Any]:
    """Anthropic sends tool input as an object: the arguments when they are one, else {}."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


@dataclass
class _Reply:
    text: str = ""
    tool: tuple[str, str] | None = None  # the tool's name, the arguments as JSON text
    status: int = 200
    garbage: bool = False
    sleep_s: float = 0.0


@dataclass
class FakeLlm:
    """Start with `with FakeLlm() as llm:`; `llm.base_url` is the OpenAI-style base URL."""

    delay_s: float = 0.0
    host: str = "127.0.0.1"
    requests: list[Recorded] = field(default_factory=list)
    max_in_flight: int = 0
    _in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: _Server | None = None

    @property
    def connections(self) -> int:
        """TCP connections accepted since the last reset."""
        assert self._server is not None
        return self._server.accepted

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> FakeLlm:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes (keep-alive)

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                fake._serve(self)

        self._server = _Server((self.host, 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.close_connections()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeLlm:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.max_in_flight = 0
        if self._server is not None:
            with self._server.lock:
                self._server.accepted = 0

    # --- behaviour ---------------------------------------------------------------------

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length") or 0)
        try:
            body = json.loads(handler.rfile.read(length) or b"{}")
        except (ValueError, RecursionError):
            body = {}
        with self._lock:
            self.requests.append(
                Recorded(handler.path, {k.lower(): v for k, v in handler.headers.items()}, body)
            )
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            anthropic = handler.path.rstrip("/").endswith("/messages")
            reply = self._decide(body, anthropic)
            time.sleep(self.delay_s + reply.sleep_s)
            if reply.garbage:
                payload = b"<html>not json</html>"
            elif reply.status != 200:
                payload = json.dumps({"error": {"message": "scripted failure"}}).encode()
            else:
                payload = json.dumps(self._completion(body, reply, anthropic)).encode()
            handler.send_response(reply.status)
            handler.send_header("content-type", "application/json")
            handler.send_header("content-length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
        finally:
            with self._lock:
                self._in_flight -= 1

    @staticmethod
    def _messages(body: dict[str, Any], anthropic: bool) -> tuple[str, list[dict[str, Any]]]:
        """(system text, messages as role + text + whether it is a tool result)."""
        if not anthropic:
            system = "\n".join(
                str(m.get("content") or "")
                for m in body.get("messages", [])
                if m.get("role") == "system"
            )
            rest = [
                {
                    "role": m.get("role"),
                    "text": str(m.get("content") or ""),
                    "tool_result": m.get("role") == "tool",
                }
                for m in body.get("messages", [])
                if m.get("role") != "system"
            ]
            return system, rest
        rest = []
        for m in body.get("messages", []):
            for block in m.get("content") or []:
                if block.get("type") == "tool_result":
                    rest.append(
                        {"role": "tool", "text": str(block.get("content")), "tool_result": True}
                    )
                elif block.get("type") == "text":
                    rest.append(
                        {"role": m.get("role"), "text": block.get("text", ""), "tool_result": False}
                    )
        return str(body.get("system") or ""), rest

    def _decide(self, body: dict[str, Any], anthropic: bool) -> _Reply:
        system, messages = self._messages(body, anthropic)
        users = [m["text"] for m in messages if m["role"] == "user"]
        last_user = users[-1] if users else ""
        reply = _Reply()
        if (sleep := _SLEEP.search(last_user)) is not None:
            reply.sleep_s = int(sleep.group(1)) / 1000
        if (fail := _FAIL.search(last_user)) is not None:
            if fail.group(1) == "garbage":
                reply.garbage = True
            else:
                reply.status = int(fail.group(1))
            return reply
        after_tool = _FAIL_AFTER_TOOL.search(last_user)
        if after_tool is not None and messages and messages[-1]["tool_result"]:
            reply.status = int(after_tool.group(1))
            return reply
        if system.startswith("You grade"):
            if "ALWAYS_FAIL" in last_user:
                reply.text = "FAIL the reply does not meet the rubric"
            elif "GIBBERISH" in last_user:
                reply.text = "Hmm, hard to say."
            else:
                reply.text = "PASS the reply meets the rubric"
            return reply
        if messages and messages[-1]["tool_result"]:
            reply.text = f"tool said: {messages[-1]['text']}"
            return reply
        offered = {
            (t.get("function") or {}).get("name") if not anthropic else t.get("name")
            for t in body.get("tools") or []
        }
        if (call := _CALL.search(last_user)) is not None and call.group(1) in offered:
            # The arguments as written, parsed or not: a model may send any text.
            reply.tool = (call.group(1), call.group(2) or "{}")
            return reply
        reply.text = f"echo: {last_user}"
        return reply

    @staticmethod
    def _completion(body: dict[str, Any], reply: _Reply, anthropic: bool) -> dict[str, Any]:
        prompt_tokens = max(1, len(json.dumps(body.get("messages", []))) // 4)
        output_tokens = max(1, len(reply.text) // 4)
        call_id = f"call_{abs(hash((reply.tool or ('', ''))[0])) % 10**8}_{time.monotonic_ns()}"
        if anthropic:
            content: list[dict[str, Any]] = []
            if reply.text:
                content.append({"type": "text", "text": reply.text})
            if reply.tool:
                content.append(
                    {
                        "type": "tool_use",
                        "id": call_id,
                        "name": reply.tool[0],
                        "input": _object_or_empty(reply.tool[1]),
                    }
                )
            return {
                "id": "msg_fake",
                "type": "message",
                "role": "assistant",
                "content": content,
                "stop_reason": "tool_use" if reply.tool else "end_turn",
                "usage": {"input_tokens": prompt_tokens, "output_tokens": output_tokens},
            }
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
        if reply.tool:
            message["tool_calls"] = [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": reply.tool[0], "arguments": reply.tool[1]},
                }
            ]
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "model": body.get("model"),
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls" if reply.tool else "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": output_tokens,
                "total_tokens": prompt_tokens + output_tokens,
            },
        }
