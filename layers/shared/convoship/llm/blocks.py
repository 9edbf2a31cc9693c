"""Content-block conversations (Anthropic Messages, Bedrock Converse) from our messages.

Both take the system prompt apart, want user and assistant turns to alternate, and carry
tool results as blocks of a user turn; `block_turns` groups them that way and the provider
module says how each block is spelled.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from convoship.llm.types import Message, ToolCall

Block = dict[str, Any]


def block_turns(
    messages: list[Message],
    *,
    text: Callable[[str], Block],
    tool_use: Callable[[ToolCall], Block],
    tool_result: Callable[[Message], Block],
) -> tuple[str, list[dict[str, Any]]]:
    """(system text, alternating turns of blocks)."""
    system = "\n\n".join(m.content for m in messages if m.role == "system" and m.content)
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue
        role = "assistant" if message.role == "assistant" else "user"
        if message.role == "tool":
            blocks = [tool_result(message)]
        else:
            blocks = [text(message.content)] if message.content else []
            blocks += [tool_use(call) for call in message.tool_calls]
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return system, turns
