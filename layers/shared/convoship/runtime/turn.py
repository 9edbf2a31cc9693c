"""One turn of an agent: the model, with the agent's tools, until it answers.

Chat and the publish gate's evals share it. The model may call tools up to the LIMIT
guardrail's `max_tool_calls_per_turn`; after that it is asked once more without tools, so
every turn ends with an answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from convoship.llm.types import ChatModel, Message, Usage
from convoship.runtime.snapshot import AgentSnapshot
from convoship.runtime.tool_calls import ToolResult, call_http_tool
from convoship.secrets.vault import SecretVault


@dataclass(frozen=True)
class ToolEvent:
    name: str
    args: Any  # the model's arguments (an object, or the raw text when it sent no object)
    result: ToolResult


@dataclass
class TurnOutcome:
    reply: str
    usage: Usage
    tool_events: list[ToolEvent] = field(default_factory=list)


def run_turn(
    model: ChatModel,
    agent: AgentSnapshot,
    history: list[Message],
    user_text: str,
    vault: SecretVault,
    *,
    allow_private: bool,
) -> TurnOutcome:
    """Answer user_text after history. Provider failures raise UpstreamUnavailable."""
    messages: list[Message] = []
    if agent.config.get("system_prompt"):
        messages.append(Message("system", agent.config["system_prompt"]))
    messages += [*history, Message("user", user_text)]
    tools = {t["name"]: t for t in agent.tools}
    offered = agent.tool_defs()
    calls_left = agent.max_tool_calls
    outcome = TurnOutcome(reply="", usage=Usage())
    while True:
        completion = model.complete(
            messages, tools=offered if calls_left > 0 else [], sampling=agent.sampling
        )
        outcome.usage.add(completion)
        if not completion.tool_calls or calls_left <= 0 or not offered:
            outcome.reply = completion.text
            return outcome
        messages.append(Message("assistant", completion.text, tool_calls=completion.tool_calls))
        for call in completion.tool_calls:
            if calls_left <= 0:
                result = ToolResult("error: this turn's tool call limit is reached", ok=False)
            elif call.name not in tools:
                result = ToolResult(f"error: there is no tool named {call.name!r}", ok=False)
            else:
                calls_left -= 1
                result = call_http_tool(
                    tools[call.name], call.arguments, vault, allow_private=allow_private
                )
            args = call.arguments if call.arguments is not None else call.raw_arguments
            outcome.tool_events.append(ToolEvent(call.name, vault.scrub_value(args), result))
            messages.append(Message("tool", result.content, tool_call_id=call.id, name=call.name))
