"""Requests through the API Gateway emulation in-process: template routes, the real
authorizer, payload-2.0 events and the real handlers (no sockets)."""

from __future__ import annotations

import json as jsonlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from convoship_dev.gateway import Gateway
from convoship_dev.template import load_template

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
_UNSET: Any = object()


@dataclass
class ApiResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    function: str

    @cached_property
    def text(self) -> str:
        return self.body.decode()

    def json(self) -> Any:
        return jsonlib.loads(self.body)


class ApiClient:
    def __init__(self) -> None:
        self.gateway = Gateway(load_template(TEMPLATE))

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        raw_auth: str | None = None,
        json: Any = _UNSET,
        data: bytes | None = None,
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> ApiResponse:
        sent: list[tuple[str, str]] = [("host", "localhost:3000"), ("user-agent", "pytest")]
        if token is not None:
            sent.append(("authorization", f"Bearer {token}"))
        elif raw_auth is not None:
            sent.append(("authorization", raw_auth))
        body = b""
        if json is not _UNSET and json is not None:
            body = jsonlib.dumps(json).encode()
            content_type = content_type or "application/json"
        elif data is not None:
            body = data
        if content_type:
            sent.append(("content-type", content_type))
        sent += list((headers or {}).items())
        (status, out_headers, out_body), function = self.gateway.handle(method, path, sent, body)
        return ApiResponse(status, {k.lower(): v for k, v in out_headers}, out_body, function)

    def get(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("DELETE", path, **kwargs)
