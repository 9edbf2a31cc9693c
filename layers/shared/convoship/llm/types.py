"""What every provider speaks: messages, tool definitions and calls, a completion."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any] | None  # None: the model sent arguments that are not an object
    raw_arguments: str = ""


@dataclass(frozen=True)
class Message:
    role: Role
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()  # assistant asking for tools
    tool_call_id: str | None = None  # tool: which call this answers
    name: str | None = None  # tool: the tool's name


@dataclass(frozen=True)
class ToolDef:
    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class Completion:
    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True)
class Sampling:
    temperature: float
    max_output_tokens: int


class ChatModel(Protocol):
    """A provider bound to one model. Failures raise errors.UpstreamUnavailable."""

    model: str

    def complete(
        self, messages: list[Message], *, tools: list[ToolDef], sampling: Sampling
    ) -> Completion: ...


MAX_TOKENS_PER_CALL = 2**31 - 1  # what one call may claim; sums of them stay in a bigint


def _claimed(tokens: int) -> int:
    """A provider's token count, as it can be billed: never negative, never past a column."""
    return min(max(tokens, 0), MAX_TOKENS_PER_CALL)


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    # A model call reached the provider and no usable answer came back (errors.AnswerLost):
    # what it cost is unknown, and is charged as the turn's reservation.
    answer_lost: bool = False

    def add(self, completion: Completion) -> None:
        self.input_tokens += _claimed(completion.input_tokens)
        self.output_tokens += _claimed(completion.output_tokens)

    def as_dict(self) -> dict[str, int]:
        return {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens}
