"""OpenAI Chat Completions, and any server that speaks it (`openai_compatible`)."""

from __future__ import annotations

from typing import Any

from convoship.core.errors import AnswerLost
from convoship.llm.jsonhttp import JsonChatModel, parse_arguments
from convoship.llm.types import Completion, Message, Sampling, ToolCall, ToolDef

OPENAI_BASE_URL = "https://api.openai.com/v1"


def _message(message: Message) -> dict[str, Any]:
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    if message.role == "assistant" and message.tool_calls:
        return {
            "role": "assistant",
            "content": message.content or None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.raw_arguments or "{}"},
                }
                for call in message.tool_calls
            ],
        }
    return {"role": message.role, "content": message.content}


def _tool(tool: ToolDef) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.parameters,
        },
    }


def request_body(
    model: str,
    messages: list[Message],
    tools: list[ToolDef],
    sampling: Sampling,
    *,
    limit_field: str = "max_tokens",
) -> dict[str, Any]:
    """limit_field: OpenAI's own API wants `max_completion_tokens` (its reasoning models
    refuse `max_tokens`); compatible servers mostly know only `max_tokens`."""
    body: dict[str, Any] = {
        "model": model,
        "messages": [_message(m) for m in messages],
        "temperature": sampling.temperature,
        limit_field: sampling.max_output_tokens,
    }
    if tools:
        body["tools"] = [_tool(t) for t in tools]
    return body


def parse_completion(body: dict[str, Any]) -> Completion:
    try:
        message = body["choices"][0]["message"]
        calls = []
        for call in message.get("tool_calls") or []:
            arguments, raw = parse_arguments(call["function"].get("arguments"))
            calls.append(ToolCall(str(call["id"]), str(call["function"]["name"]), arguments, raw))
        usage = body.get("usage") or {}
        return Completion(
            text=str(message.get("content") or ""),
            tool_calls=tuple(calls),
            input_tokens=int(usage.get("prompt_tokens") or 0),
            output_tokens=int(usage.get("completion_tokens") or 0),
        )
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        raise AnswerLost("the model sent a completion this service cannot read") from None


class OpenAIChat(JsonChatModel):
    def __init__(
        self,
        *,
        model: str,
        base_url: str | None,
        api_key: str | None,
        timeout_s: float,
        allow_private: bool,
        provider: str = "openai",
    ) -> None:
        super().__init__(
            model=model,
            url=(base_url or OPENAI_BASE_URL).rstrip("/") + "/chat/completions",
            headers={"authorization": f"Bearer {api_key}"} if api_key else {},
            timeout_s=timeout_s,
            allow_private=allow_private,
        )
        self.provider = provider
        # OpenAI's own API wants max_completion_tokens; compatible servers know max_tokens.
        self._limit_field = "max_completion_tokens" if provider == "openai" else "max_tokens"

    def body(self, messages: list[Message], tools: list[ToolDef], sampling: Sampling) -> Any:
        return request_body(self.model, messages, tools, sampling, limit_field=self._limit_field)

    def parse(self, body: dict[str, Any]) -> Completion:
        return parse_completion(body)
