"""Amazon Bedrock Converse API, authenticated by the function's IAM role (boto3).

A call ends by the chat turn's deadline (security/outbound.deadline_for_calls), as the
other providers' do: boto3 takes its timeouts per client, so the client is one with the
model's timeout cut to what the turn has left, in whole seconds (at least 1), kept per
timeout: at most one client per second of CONVOSHIP_LLM_TIMEOUT_S.
"""

from __future__ import annotations

from typing import Any

from convoship.core.errors import AnswerLost, UpstreamUnavailable
from convoship.core.json_text import storable
from convoship.core.observability import logger
from convoship.core.snapstart import after_restore
from convoship.llm.blocks import block_turns
from convoship.llm.jsonhttp import parse_arguments
from convoship.llm.types import Completion, Message, Sampling, ToolCall, ToolDef
from convoship.security.outbound import time_left

_clients: dict[float, Any] = {}
MIN_CALL_TIMEOUT_S = 1
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


def call_timeout(timeout_s: float, left: float) -> float:
    """The timeout of a call with `left` seconds before the turn's deadline: timeout_s, or
    what is left in whole seconds (a bounded number of clients), at least 1."""
    if left >= timeout_s:
        return timeout_s
    return float(max(MIN_CALL_TIMEOUT_S, int(left)))


def client_for_call(timeout_s: float) -> Any:
    """The client of one call: its timeouts cut to what the turn's deadline leaves."""
    return _client(call_timeout(timeout_s, time_left(timeout_s)))


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
            body = client_for_call(self._timeout_s).converse(
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
