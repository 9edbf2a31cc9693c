"""POST JSON to a provider and read JSON back; every failure is UpstreamUnavailable, and
AnswerLost once the request had gone out and no usable answer came back (it may be billed;
an HTTP error status is an answer that bills nothing).

Error bodies are never echoed: providers quote parts of a wrong API key in them. What a
model sends is made storable: lone surrogates and NUL become U+FFFD (in tool arguments
too), NaN and Infinity (not JSON) are refused.
"""

from __future__ import annotations

import json
from typing import Any

from convoship.core.errors import AnswerLost, UpstreamUnavailable
from convoship.core.json_text import parse_storable_json
from convoship.core.observability import logger
from convoship.llm.types import Completion, Message, Sampling, ToolDef
from convoship.security import outbound

MAX_RESPONSE_BYTES = 4 * 1024 * 1024


def post_json(
    url: str,
    payload: dict[str, Any],
    headers: dict[str, str],
    *,
    provider: str,
    timeout_s: float,
    allow_private: bool,
) -> dict[str, Any]:
    try:
        response = outbound.request(
            "POST",
            url,
            headers={"content-type": "application/json", "accept": "application/json", **headers},
            body=json.dumps(payload).encode(),
            timeout_s=timeout_s,
            max_bytes=MAX_RESPONSE_BYTES,
            allow_private=allow_private,
            # a completion changes nothing upstream: after a stale keep-alive it may be sent
            # again (at worst its tokens are paid twice), unlike a POST tool call
            replay_safe=True,
        )
    except outbound.OutboundError as exc:
        logger.warning("model call failed", extra={"provider": provider, "error": str(exc)})
        lost = AnswerLost if exc.sent else UpstreamUnavailable  # sent: it may be billed
        raise lost(f"the {provider} model could not be reached: {exc}") from None
    if response.status >= 400:
        logger.warning(
            "model call refused", extra={"provider": provider, "status": response.status}
        )
        raise UpstreamUnavailable(
            f"the {provider} model answered HTTP {response.status}",
            upstream_status=response.status,
        )
    try:
        body = parse_storable_json(response.body)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise AnswerLost(f"the {provider} model sent a response that is not JSON")
    return body


def parse_arguments(raw: Any) -> tuple[dict[str, Any] | None, str]:
    """Tool-call arguments as an object (None when they are not one) and as sent."""
    if isinstance(raw, dict):
        return raw, json.dumps(raw)
    text = raw if isinstance(raw, str) else ""
    try:
        # JSON in a JSON string: its escapes were decoded once with the body, twice only now.
        value = parse_storable_json(text) if text.strip() else {}
    except ValueError:
        return None, text
    return (value, text) if isinstance(value, dict) else (None, text)


class JsonChatModel:
    """A provider spoken to with one JSON POST per completion; subclasses say how the
    request is written (`body`) and the answer read (`parse`)."""

    provider = "json"

    def __init__(
        self,
        *,
        model: str,
        url: str,
        headers: dict[str, str],
        timeout_s: float,
        allow_private: bool,
    ) -> None:
        self.model = model
        self._url = url
        self._headers = headers
        self._timeout_s = timeout_s
        self._allow_private = allow_private

    def __repr__(self) -> str:  # never the headers: they carry the key
        return f"{type(self).__name__}(model={self.model!r}, url={self._url!r})"

    def body(self, messages: list[Message], tools: list[ToolDef], sampling: Sampling) -> Any:
        raise NotImplementedError

    def parse(self, body: dict[str, Any]) -> Completion:
        raise NotImplementedError

    def complete(
        self, messages: list[Message], *, tools: list[ToolDef], sampling: Sampling
    ) -> Completion:
        answer = post_json(
            self._url,
            self.body(messages, tools, sampling),
            self._headers,
            provider=self.provider,
            timeout_s=self._timeout_s,
            allow_private=self._allow_private,
        )
        return self.parse(answer)
