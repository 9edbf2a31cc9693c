"""One turn of an agent: the model, with the agent's tools, until it answers.

Chat and the publish gate's evals share it. The model may call tools up to the LIMIT
guardrail's `max_tool_calls_per_turn`; after that it is asked once more without tools, so
every turn ends with an answer.

What the model spent is added to `spent` (the caller's) as each completion arrives, so a turn
that fails after spending still says what it spent (chat charges it), and `spent.answer_lost`
says a call reached the provider without a usable answer (its cost unknown). With a `deadline`
(monotonic seconds), the model and tool calls together end by it: each call's own timeout is
cut to what is left (security/outbound.py), and no call starts after it (TurnTimedOut).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

from convoship.core.errors import AnswerLost, TurnTimedOut, UpstreamUnavailable
from convoship.llm.types import ChatModel, Completion, Message, Usage
from convoship.runtime.snapshot import AgentSnapshot
from convoship.runtime.tool_calls import ToolResult, call_http_tool
from convoship.secrets.vault import SecretVault
from convoship.security.outbound import deadline_for_calls


@dataclass(frozen=True)
class ToolEvent:
    """One tool call; args as the model sent them (scrub before showing or writing them)."""

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
    spent: Usage | None = None,
    deadline: float | None = None,
) -> TurnOutcome:
    """Answer user_text after history. Provider failures raise UpstreamUnavailable, a turn
    past its deadline TurnTimedOut; spent (if given) holds the usage so far either way."""
    outcome = TurnOutcome(reply="", usage=Usage() if spent is None else spent)
    with deadline_for_calls(deadline):
        try:
            return _tool_loop(
                model, agent, history, user_text, vault, allow_private, outcome, deadline
            )
        except UpstreamUnavailable:
            _check_deadline(deadline)  # a model call the deadline cut: the deadline is why
            raise


def _tool_loop(
    model: ChatModel,
    agent: AgentSnapshot,
    history: list[Message],
    user_text: str,
    vault: SecretVault,
    allow_private: bool,
    outcome: TurnOutcome,
    deadline: float | None,
) -> TurnOutcome:
    messages: list[Message] = []
    if agent.config.get("system_prompt"):
        messages.append(Message("system", agent.config["system_prompt"]))
    messages += [*history, Message("user", user_text)]
    tools = {t["name"]: t for t in agent.tools}
    offered = agent.tool_defs()
    calls_left = agent.max_tool_calls
    while True:
        _check_deadline(deadline)
        try:
            completion = model.complete(
                messages, tools=offered if calls_left > 0 else [], sampling=agent.sampling
            )
        except AnswerLost:
            outcome.usage.answer_lost = True
            raise
        outcome.usage.add(completion)
        if not completion.tool_calls or calls_left <= 0 or not offered:
            outcome.reply = completion.text
            return outcome
        answered: list[tuple[str, ToolResult]] = []
        for call in completion.tool_calls:
            if calls_left <= 0:
                result = ToolResult("error: this turn's tool call limit is reached", ok=False)
            elif call.name not in tools:
                result = ToolResult(f"error: there is no tool named {call.name!r}", ok=False)
            else:
                _check_deadline(deadline)
                calls_left -= 1
                result = call_http_tool(
                    tools[call.name], call.arguments, vault, allow_private=allow_private
                )
            args = call.arguments if call.arguments is not None else call.raw_arguments
            outcome.tool_events.append(ToolEvent(call.name, args, result))
            answered.append((call.id, result))
        # Shown to the model once every call is made: by then the vault knows every value.
        messages.append(_asking_for_tools(completion, vault))
        for (call_id, result), call in zip(answered, completion.tool_calls, strict=True):
            content = vault.scrub(result.content)
            messages.append(Message("tool", content, tool_call_id=call_id, name=call.name))


def _check_deadline(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() >= deadline:
        raise TurnTimedOut("the turn's model and tool calls did not end within its deadline")


def _asking_for_tools(completion: Completion, vault: SecretVault) -> Message:
    """The model's request for tools as it is shown to the model again: scrubbed, like all
    it sees next."""
    calls = tuple(
        replace(
            call,
            arguments=vault.scrub_value(call.arguments),
            raw_arguments=vault.scrub(call.raw_arguments),
        )
        for call in completion.tool_calls
    )
    return Message("assistant", vault.scrub(completion.text), tool_calls=calls)
