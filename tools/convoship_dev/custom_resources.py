"""CloudFormation's side of a custom resource, on loopback: `convoship invoke` and the tests
hand the function a ResponseURL on 127.0.0.1 and read the answer CloudFormation would get."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class ResponseCatcher:
    """A loopback HTTP server that records every PUT (body as JSON, headers lower-cased)."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.status = 200  # what the server answers; tests set 500 to see retries
        catcher = self

        class _Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                catcher.headers.append({k.lower(): v for k, v in self.headers.items()})
                catcher.received.append(json.loads(body or b"null"))
                self.send_response(catcher.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:  # keep stdout for the result
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/cloudformation-response"

    def __enter__(self) -> ResponseCatcher:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def is_custom_resource_event(event: Any) -> bool:
    return isinstance(event, dict) and "RequestType" in event and "ResponseURL" in event


def invoke_custom_resource(
    handler: Callable[[dict[str, Any], Any], Any], event: dict[str, Any], context: Any
) -> dict[str, Any]:
    """Call handler as CloudFormation would; return the answer it PUT to the ResponseURL."""
    with ResponseCatcher() as catcher:
        handler({**event, "ResponseURL": catcher.url}, context)
    if len(catcher.received) != 1:
        raise RuntimeError(f"expected one answer to CloudFormation, got {len(catcher.received)}")
    answer: dict[str, Any] = catcher.received[0]
    return answer
