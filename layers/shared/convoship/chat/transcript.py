"""What a chat turn writes: its messages after REDACT, the conversation's usage and turn
count, and the agent's daily usage, in one transaction that also settles the turn's
reservation (chat/reservation.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from convoship.core.observability import logger, metrics
from convoship.db.connection import Connection
from convoship.runtime.snapshot import RunContext

REDACTION_FAILED = "[REDACTION FAILED]"  # stored instead of a value redaction could not handle
_LAST_SEQ = "(SELECT COALESCE(max(seq), 0) FROM ai_agent_messages WHERE conversation_id = %(id)s)"


class Redactor:
    """Applies the REDACT guardrail to what is written, counting what it replaced.

    Fails closed: if redaction raises, the value is stored as REDACTION_FAILED (never the raw
    text) and a RedactionFailed metric is emitted.
    """

    def __init__(self, context: RunContext) -> None:
        redact = context.snapshot.guardrails.get("REDACT")
        self.entities: list[str] = list(redact["entities"]) if redact else []
        self.phone_regions: list[str] | None = redact.get("phone_regions") if redact else None
        self.count = 0

    def __call__(self, value: Any) -> Any:
        if not self.entities:
            return value
        try:
            from convoship.runtime.pii import redact_value  # lazy: only turns that write text

            result, count = redact_value(value, self.entities, self.phone_regions)
        except Exception as exc:  # whatever failed, the raw text is not stored
            logger.error(
                "redaction failed; stored a placeholder", extra={"error": type(exc).__name__}
            )
            metrics.add_metric(name="RedactionFailed", unit="Count", value=1)
            return REDACTION_FAILED
        self.count += count
        return result


@dataclass(frozen=True)
class TurnRecord:
    """One answered turn, as it is persisted."""

    conversation_id: UUID
    is_new: bool
    status: str
    usage: dict[str, int]
    messages: list[dict[str, Any]]  # already redacted
    visitor_sub: str | None = None  # whom a new conversation belongs to
    reservation_id: UUID | None = None  # what the turn holds, settled here


def persist_turn(conn: Connection, context: RunContext, channel: str, turn: TurnRecord) -> None:
    """Queue the turn's writes (one round trip with the COMMIT). The conversation row is
    locked first, as reserve_chat_turn locks it, then the reservation is settled: the
    real usage in, the reservation out, in one commit."""
    tokens = turn.usage["input_tokens"] + turn.usage["output_tokens"]
    params = {
        "id": turn.conversation_id,
        "ws": context.workspace_id,
        "agent": context.agent_id,
        "channel": channel,
        "status": turn.status,
        "version": context.version,
        "in": turn.usage["input_tokens"],
        "out": turn.usage["output_tokens"],
        "tokens": tokens,
        "messages": Jsonb(turn.messages),
        "visitor": turn.visitor_sub,
        "reservation": turn.reservation_id,
    }
    if turn.is_new:
        conn.execute(
            "INSERT INTO ai_agent_conversations (id, workspace_id, agent_id, channel, status,"
            " version, usage, turns, visitor_sub) VALUES (%(id)s, %(ws)s, %(agent)s, %(channel)s,"
            " %(status)s, %(version)s, jsonb_build_object('input_tokens', %(in)s::bigint,"
            " 'output_tokens', %(out)s::bigint), 1, %(visitor)s)",
            params,
        )
    else:  # takes the row lock: concurrent turns of one conversation queue here
        conn.execute(
            "UPDATE ai_agent_conversations SET status = %(status)s, turns = turns + 1,"
            " updated_at = now(), usage = jsonb_build_object("
            "'input_tokens', COALESCE((usage->>'input_tokens')::bigint, 0) + %(in)s,"
            " 'output_tokens', COALESCE((usage->>'output_tokens')::bigint, 0) + %(out)s)"
            " WHERE id = %(id)s",
            params,
        )
    if turn.reservation_id is not None:  # raises (serialization failure) if it lapsed
        conn.execute("SELECT settle_chat_turn(%(reservation)s)", params)
    # A new conversation has no messages yet: its numbering starts at 1 without a max(seq)
    # probe (whose plan, under the messages' row-level security, cost 0.1 ms a turn).
    base = "0" if turn.is_new else _LAST_SEQ
    conn.execute(
        "INSERT INTO ai_agent_messages (workspace_id, conversation_id, seq, role, content,"
        f" tool_name, tool_args) SELECT %(ws)s, %(id)s, {base} + m.ord, m.msg->>'role',"
        " m.msg->>'content', m.msg->>'tool_name', m.msg->'tool_args'"
        " FROM jsonb_array_elements(%(messages)s) WITH ORDINALITY AS m(msg, ord)",
        params,
    )
    if tokens:
        conn.execute(
            "INSERT INTO ai_agent_usage_daily (workspace_id, agent_id, day, tokens)"
            " VALUES (%(ws)s, %(agent)s, (now() AT TIME ZONE 'utc')::date, %(tokens)s)"
            " ON CONFLICT (agent_id, day)"
            " DO UPDATE SET tokens = ai_agent_usage_daily.tokens + EXCLUDED.tokens",
            params,
        )
