"""Amazon Bedrock Converse API, authenticated by the function's IAM role (boto3)."""

from __future__ import annotations

from typing import Any

from convoship.core.errors import AnswerLost, UpstreamUnavailable
from convoship.core.json_text import storable
from convoship.core.observability import logger
from convoship.core.snapstart import after_restore
from convoship.llm.blocks import block_turns
from convoship.llm.jsonhttp import parse_arguments
from convoship.llm.types import Completion, Message, Sampling, ToolCall, ToolDef

_clients: dict[float, Any] = {}
# A client made before a SnapStart snapshot would carry its pooled sockets into every clone.
after_restore(_clients.clear)


def request_kwargs(
    model: str, messages: list[Message], tools: list[ToolDef], sampling: Sampling
) -> dict[str, Any]:
    system, turns = block_turns(
        messages,
        text=lambda text: {"text": text},
        tool_use=lambda call: {
            "toolUse": {"toolUseId": call.id, "name": call.name, "input": call.arguments or {}}
        },
        tool_result=lambda m: {
            "toolResult": {"toolUseId": m.tool_call_id, "content": [{"text": m.content}]}
        },
    )
    kwargs: dict[str, Any] = {
        "modelId": model,
        "messages": turns,
        "inferenceConfig": {
            "maxTokens": sampling.max_output_tokens,
            "temperature": min(sampling.temperature, 1.0),
        },
    }
    if system:
        kwargs["system"] = [{"text": system}]
    if tools:
        kwargs["toolConfig"] = {
            "tools": [
                {
                    "toolSpec": {
                        "name": t.name,
                        "description": t.description or t.name,
                        "inputSchema": {"json": t.parameters},
                    }
                }
                for t in tools
            ]
        }
    return kwargs


def parse_completion(body: dict[str, Any]) -> Completion:
    try:
        texts, calls = [], []
        for block in body["output"]["message"]["content"]:
            if "text" in block:
                texts.append(str(block["text"]))
            elif "toolUse" in block:
                use = block["toolUse"]
                arguments, raw = parse_arguments(use.get("input"))
                calls.append(ToolCall(str(use["toolUseId"]), str(use["name"]), arguments, raw))
        usage = body.get("usage") or {}
        return Completion(
            text="".join(texts),
            tool_calls=tuple(calls),
            input_tokens=int(usage.get("inputTokens") or 0),
            output_tokens=int(usage.get("outputTokens") or 0),
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise AnswerLost("the model sent a completion this service cannot read") from None


def _client(timeout_s: float) -> Any:
    if timeout_s not in _clients:
        import boto3  # lazy: only Bedrock calls pay for it
        from botocore.config import Config

        _clients[timeout_s] = boto3.client(
            "bedrock-runtime",
            config=Config(
                connect_timeout=min(5.0, timeout_s),
                read_timeout=timeout_s,
                retries={"max_attempts": 1, "mode": "standard"},
            ),
        )
    return _clients[timeout_s]


class BedrockChat:
    def __init__(self, *, model: str, timeout_s: float) -> None:
        self.model = model
        self._timeout_s = timeout_s

    def complete(
        self, messages: list[Message], *, tools: list[ToolDef], sampling: Sampling
    ) -> Completion:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            ConnectionClosedError,
            ReadTimeoutError,
        )

        try:
            body = _client(self._timeout_s).converse(
                **request_kwargs(self.model, messages, tools, sampling)
            )
        except (BotoCoreError, ClientError) as exc:
            logger.warning("model call failed", extra={"provider": "bedrock", "error": str(exc)})
            # sent, and no answer came back: it may be billed (an error status bills nothing)
            lost = isinstance(exc, (ReadTimeoutError, ConnectionClosedError))
            raise (AnswerLost if lost else UpstreamUnavailable)(
                f"the bedrock model could not be reached: {exc}"
            ) from None
        # boto3 parsed the JSON: lone surrogates and NUL it let through become U+FFFD here.
        return parse_completion(storable(body))
