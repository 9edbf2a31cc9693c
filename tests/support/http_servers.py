"""Loopback HTTP servers standing in for the services tools call (and attackers run)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

Seen = dict[str, Any]
# (status, body) sent as application/json, or (status, body, content type)
Respond = Callable[[Seen], tuple[int, bytes] | tuple[int, bytes, str]]


def echo(seen: Seen) -> tuple[int, bytes]:
    """Answer with what was received (a tool that echoes its credentials)."""
    return 200, json.dumps(seen).encode()


class RecordingServer:
    """Records every request (method, path, headers, body) and answers with respond(seen)."""

    def __init__(self, respond: Respond = echo, host: str = "127.0.0.1", port: int = 0) -> None:
        self.received: list[Seen] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                seen = {
                    "method": self.command,
                    "path": self.path,
                    "headers": dict(self.headers.items()),
                    "body": self.rfile.read(length).decode(),
                }
                recorder.received.append(seen)
                status, payload, *content_type = respond(seen)
                self.send_response(status)
                self.send_header("content-type", (content_type or ["application/json"])[0])
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _answer

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.server.server_address[0]}:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def echo_server() -> Iterator[RecordingServer]:
    """A loopback server that answers with what it received."""
    server = RecordingServer()
    yield server
    server.stop()
