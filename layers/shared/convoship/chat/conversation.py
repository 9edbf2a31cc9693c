"""The conversation a turn continues (status, turns, tokens, recent history), queued in the
turn's read round trip."""

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


# What a conversation is read as: its row (id, status, turns, usage, visitor_sub; None when
# there is none) and its recent messages, oldest first.
Read = tuple[dict[str, Any] | None, list[dict[str, Any]]]


def queue_conversation(
    conn: Connection,
    scope: ChannelScope,
    conversation_id: UUID | None,
    read_elsewhere: Callable[[], Read] | None = None,
) -> Callable[[], Conversation | None]:
    """Queue the conversation and its recent messages; a thunk reads them (None for a new
    conversation or one that does not exist). An unknown id raises nothing here: the turn
    answers 404 for it only after RPM and AUTH, where the contract puts the conversation
    (chat/turn.py). `read_elsewhere`: the same, as another statement of the batch read it
    (the read's reservation: chat/read_ahead.py), so nothing is queued here."""
    if conversation_id is None:
        return lambda: None
    if read_elsewhere is not None:
        return lambda: conversation_of(*read_elsewhere())
    agent = scope.agent_sql
    params = {**scope.params, "cid": conversation_id, "channel": scope.channel}
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
    return lambda: conversation_of(conversation.fetchone(), messages.fetchall())


def conversation_of(
    row: dict[str, Any] | None, history: list[dict[str, Any]]
) -> Conversation | None:
    """The conversation a row and its recent messages describe (None: no row)."""
    if row is None:
        return None
    usage = row["usage"]
    tokens = int(usage.get("input_tokens", 0)) + int(usage.get("output_tokens", 0))
    return Conversation(row["id"], row["status"], row["turns"], tokens, history, row["visitor_sub"])
