"""The conversation a turn continues (status, turns, tokens, recent history) and today's
usage of the agent, queued in the turn's read round trip."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from convoship.chat.scope import ChannelScope
from convoship.db.connection import Connection

HISTORY_MESSAGES = 50  # earlier user/assistant messages the model sees


@dataclass(frozen=True)
class Conversation:
    id: UUID
    status: str
    turns: int
    tokens: int
    history: list[dict[str, Any]]
    visitor_sub: str | None  # the visitor it belongs to (embed with visitor tokens)


def queue_conversation(
    conn: Connection, scope: ChannelScope, conversation_id: UUID | None
) -> Callable[[], tuple[Conversation | None, int | None]]:
    """Queue the conversation, its recent messages and today's usage (unless the scope's
    context read brings it); a thunk reads them as (conversation, or None for a new one or
    one that does not exist, tokens the agent used today or None when not queued here).
    An unknown id raises nothing here: the turn answers 404 for it only after
    RPM and AUTH, where the contract puts the conversation (chat/turn.py)."""
    agent = scope.agent_sql
    params = {**scope.params, "cid": conversation_id, "channel": scope.channel}
    conversation = None
    messages = None
    if conversation_id is not None:
        conversation = conn.execute(
            "SELECT id, status, turns, usage, visitor_sub FROM ai_agent_conversations"
            f" WHERE id = %(cid)s AND channel = %(channel)s AND agent_id = {agent}",
            params,
        )
        messages = conn.execute(
            "SELECT role, content FROM (SELECT seq, role, content FROM ai_agent_messages"
            " WHERE conversation_id = %(cid)s AND role IN ('user', 'assistant')"
            " ORDER BY seq DESC LIMIT %(n)s) recent ORDER BY seq",
            {**params, "n": HISTORY_MESSAGES},
        )
    usage = None
    if not scope.context_reads_usage:
        usage = conn.execute(
            "SELECT tokens FROM ai_agent_usage_daily"
            f" WHERE agent_id = {agent} AND day = (now() AT TIME ZONE 'utc')::date",
            params,
        )

    def read() -> tuple[Conversation | None, int | None]:
        today = usage.fetchone() if usage is not None else None
        spent = int(today["tokens"]) if today else (0 if usage is not None else None)
        if conversation is None or messages is None:
            return None, spent
        row = conversation.fetchone()
        history = messages.fetchall()
        if row is None:
            return None, spent
        tokens = int(row["usage"].get("input_tokens", 0)) + int(
            row["usage"].get("output_tokens", 0)
        )
        found = Conversation(
            row["id"], row["status"], row["turns"], tokens, history, row["visitor_sub"]
        )
        return found, spent

    return read
