"""What a chat turn holds while the model thinks: one turn of its conversation and the tokens
it may spend (its input, estimated, plus the config's max_output_tokens).

Reserved in one round trip before the model call, after every other check passed
(`reserve_chat_turn` in SQL: the conversation's row lock and an advisory lock per agent and
day serialize reservations, and each counts the live reservations before it), so LIMIT and
BUDGET hold under any concurrency. The transaction that writes the turn settles it
(transcript.persist_turn: the real usage in, the reservation out, atomically); a turn that
fails releases it. A reservation expires after RESERVATION_TTL_S, so one held by a container
that died mid-turn lapses by itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import psycopg

from convoship.chat import checks
from convoship.chat.conversation import Conversation
from convoship.chat.scope import ChannelScope
from convoship.core.errors import ConvoshipError, NotFound, ServiceUnavailable
from convoship.core.observability import logger
from convoship.db.read_batch import batch_transaction
from convoship.runtime.snapshot import AgentSnapshot, RunContext

# Longer than any turn can live: the chat function's timeout is 30 s (template.yaml), and
# a turn that outlives its reservation anyway is refused when it settles (503, nothing
# written), since later reservations no longer counted it.
RESERVATION_TTL_S = 120
BYTES_PER_TOKEN = 3  # cautious: English runs about 4 characters per token
TOKENS_PER_MESSAGE = 4  # role and framing


@dataclass(frozen=True)
class Reservation:
    id: UUID
    tokens: int  # what it holds


def fixed_input(snapshot: AgentSnapshot, text: str) -> tuple[int, int]:
    """The UTF-8 bytes and the texts the model reads besides the history: the system prompt,
    the message and the tool definitions."""
    return snapshot.fixed_input_bytes + len(text.encode()), 2


def estimate_input_tokens(snapshot: AgentSnapshot, history: list[dict[str, Any]], text: str) -> int:
    """What the model will read (system prompt, history, the message, tool definitions), in
    tokens, estimated from UTF-8 bytes on the high side. Settling replaces it with the
    provider's count; a turn that calls tools reads more (each result, once per call).
    reserve_published_turn (SQL, migration 0013) computes the same from fixed_input."""
    size, texts = fixed_input(snapshot, text)
    size += sum(len(m["content"].encode()) for m in history)
    return -(-size // BYTES_PER_TOKEN) + TOKENS_PER_MESSAGE * (texts + len(history))


def turn_tokens(context: RunContext, conv: Conversation | None, text: str) -> int:
    """The tokens a turn that calls the model reserves."""
    history = conv.history if conv else []
    estimate = estimate_input_tokens(context.snapshot, history, text)
    return estimate + context.snapshot.sampling.max_output_tokens


def limits_of(snapshot: AgentSnapshot) -> dict[str, Any]:
    """What a reservation is held within (the reservation functions' turns, conv_tokens,
    day_tokens and ttl parameters): LIMIT's and BUDGET's caps, None where there is none."""
    limit = snapshot.guardrails.get("LIMIT")
    budget = snapshot.guardrails.get("BUDGET")
    return {
        "turns": limit["max_turns_per_conversation"] if limit else None,
        "conv_tokens": budget["max_tokens_per_conversation"] if budget else None,
        "day_tokens": budget["max_tokens_per_day"] if budget else None,
        "ttl": RESERVATION_TTL_S,
    }


def reserve_turn(
    scope: ChannelScope,
    context: RunContext,
    conversation_id: UUID,
    *,
    existing: bool,
    visitor: str | None,
    tokens: int,
) -> Reservation | None:
    """Hold one turn and `tokens` for the turn, or raise the problem of the limit that
    refuses them; None when the agent has neither LIMIT nor BUDGET."""
    limit = context.snapshot.guardrails.get("LIMIT")
    budget = context.snapshot.guardrails.get("BUDGET")
    if limit is None and budget is None:
        return None
    reservation = Reservation(uuid4(), tokens)
    params = {
        "id": reservation.id,
        "ws": context.workspace_id,
        "agent": context.agent_id,
        "channel": scope.channel,
        "conv": conversation_id,
        "existing": existing,
        "visitor": visitor,
        "tokens": tokens,
        **limits_of(context.snapshot),
    }
    # Not durable: a reservation need not survive a server crash (the WAL of anything
    # committed after it is lost with it, and its turn then fails to settle, 503, and writes
    # nothing), so its commit does not wait for the WAL flush (about 2 ms of a turn here).
    try:
        with batch_transaction(**scope.transaction, durable=False) as conn:
            row = conn.execute(
                "SELECT reserve_chat_turn(%(id)s, %(ws)s, %(agent)s, %(channel)s, %(conv)s,"
                " %(existing)s, %(visitor)s, %(tokens)s, %(turns)s, %(conv_tokens)s,"
                " %(day_tokens)s, %(ttl)s) AS verdict",
                params,
            ).fetchone()
    except ServiceUnavailable:  # its reply may be lost after it committed: released by id
        release_turn(scope, reservation)
        raise
    verdict = row["verdict"] if row else None
    if verdict == "reserved":
        return reservation
    if verdict == "not-found":  # gone, or another visitor's: as if it never existed
        raise checks.conversation_not_found(conversation_id)
    if verdict == "no-agent":  # deleted since the turn read it
        raise NotFound("the agent was deleted while the turn was starting")
    if verdict == "turns" and limit is not None:
        raise checks.turn_limit_reached(limit)
    if verdict == "conversation-tokens" and budget is not None:
        raise checks.conversation_budget_spent(budget)
    if verdict == "day-tokens" and budget is not None:
        raise checks.daily_budget_spent(budget)
    raise RuntimeError(f"reserve_chat_turn answered {verdict!r}")


def release_turn(scope: ChannelScope, reservation: Reservation) -> None:
    """Give back what a failed turn held. If the database cannot be reached, the reservation
    lapses by itself; the turn's own failure is what the caller reports."""
    try:
        with batch_transaction(**scope.transaction, durable=False) as conn:
            conn.execute("SELECT release_chat_turn(%s)", (reservation.id,)).fetchall()
    except (ConvoshipError, psycopg.Error) as exc:
        logger.warning(
            "turn reservation not released; it lapses by itself",
            extra={"reservation": str(reservation.id), "error": type(exc).__name__},
        )
