"""The model's part of a chat turn: the tool loop under the turn's one deadline, its reply
scrubbed of secret values, and what it spent kept even when it fails."""

from __future__ import annotations

import time
from typing import Any

from convoship.chat.conversation import Conversation
from convoship.core.errors import TurnTimedOut
from convoship.core.settings import get_settings
from convoship.llm.types import Usage
from convoship.runtime.snapshot import RunContext
from convoship.secrets.vault import SecretVault


def model_reply(
    context: RunContext,
    message: str,
    conv: Conversation | None,
    vault: SecretVault,
    spent: Usage,
) -> tuple[str, dict[str, int], list[Any]]:
    """The model's answer (secrets scrubbed), its usage and the tool calls it made; spent
    holds the usage so far, also when this raises."""
    from convoship.llm.select import chat_model
    from convoship.llm.types import Message
    from convoship.runtime.turn import run_turn

    settings = get_settings()
    model = chat_model(
        context.llm,
        workspace_id=context.workspace_id,
        agent_model=context.snapshot.config.get("model"),
        settings=settings,
    )
    history = [Message(m["role"], m["content"]) for m in (conv.history if conv else [])]
    seconds = settings.chat_turn_deadline_s
    try:
        outcome = run_turn(
            model,
            context.snapshot,
            history,
            message,
            vault,
            allow_private=settings.allow_private_network,
            spent=spent,
            deadline=time.monotonic() + seconds,
        )
    except TurnTimedOut:
        raise TurnTimedOut(
            f"the turn did not finish within {seconds} s (its model and tool calls together)"
        ) from None
    # Whole values only: the model never read one (tool results, error texts and its own
    # calls are scrubbed before it sees them), so a reply holds one only if the visitor typed
    # it; scrubbing a tail that merely begins a value would confirm a guess at it.
    reply = vault.scrub(outcome.reply)
    return reply, outcome.usage.as_dict(), outcome.tool_events
