"""Anthropic Messages API."""

from __future__ import annotations

from typing import Any

from convoship.core.errors import AnswerLost
from convoship.llm.blocks import block_turns
from convoship.llm.jsonhttp import JsonChatModel, parse_arguments
from convoship.llm.types import Completion, Message, Sampling, ToolCall, ToolDef

ANTHROPIC_BASE_URL = "https://api.anthropic.com"
ANTHROPIC_VERSION = "2023-06-01"


def request_body(
    model: str, messages: list[Message], tools: list[ToolDef], sampling: Sampling
) -> dict[str, Any]:
    system, turns = block_turns(
        messages,
        text=lambda text: {"type": "text", "text": text},
        tool_use=lambda call: {
            "type": "tool_use",
            "id": call.id,
            "name": call.name,
            "input": call.arguments or {},
        },
        tool_result=lambda m: {
            "type": "tool_result",
            "tool_use_id": m.tool_call_id,
            "content": m.content,
        },
    )
    body: dict[str, Any] = {
        "model": model,
        "messages": turns,
        "max_tokens": sampling.max_output_tokens,
        "temperature": min(sampling.temperature, 1.0),  # Anthropic accepts 0..1
    }
    if system:
        body["system"] = system
    if tools:
        body["tools"] = [
            {"name": t.name, "description": t.description, "input_schema": t.parameters}
            for t in tools
        ]
    return body


def parse_completion(body: dict[str, Any]) -> Completion:
    try:
        texts, calls = [], []
        for block in body["content"]:
            if block.get("type") == "text":
                texts.append(str(block.get("text") or ""))
            elif block.get("type") == "tool_use":
                arguments, raw = parse_arguments(block.get("input"))
                calls.append(ToolCall(str(block["id"]), str(block["name"]), arguments, raw))
        usage = body.get("usage") or {}
        return Completion(
            text="".join(texts),
            tool_calls=tuple(calls),
            input_tokens=int(usage.get("input_tokens") or 0),
            output_tokens=int(usage.get("output_tokens") or 0),
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise AnswerLost("the model sent a completion this service cannot read") from None


class AnthropicChat(JsonChatModel):
    provider = "anthropic"

    def __init__(
        self,
        *,
        model: str,
        base_url: str | None,
        api_key: str | None,
        timeout_s: float,
        allow_private: bool,
    ) -> None:
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        if api_key:
            headers["x-api-key"] = api_key
        super().__init__(
            model=model,
            url=(base_url or ANTHROPIC_BASE_URL).rstrip("/") + "/v1/messages",
            headers=headers,
            timeout_s=timeout_s,
            allow_private=allow_private,
        )

    def body(self, messages: list[Message], tools: list[ToolDef], sampling: Sampling) -> Any:
        return request_body(self.model, messages, tools, sampling)

    def parse(self, body: dict[str, Any]) -> Completion:
        return parse_completion(body)
