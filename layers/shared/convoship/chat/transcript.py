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
    """Queue the turn's writes (one round trip with the COMMIT): `write_chat_turn` (SQL,
    migration 0010, run as the caller under its row-level security; its plans are cached
    for the session) locks the conversation row first, as reserve_chat_turn locks it, then
    settles the reservation (the real usage in, the reservation out, in one commit), numbers
    the messages after the last and adds the tokens to the agent's day."""
    conn.execute(
        # Numbers cast: one out of range is refused as a value (DataError), not as a call.
        "SELECT write_chat_turn(%(id)s, %(ws)s, %(agent)s, %(channel)s, %(status)s,"
        " %(version)s::integer, %(new)s, %(in)s::bigint, %(out)s::bigint, %(messages)s,"
        " %(visitor)s, %(reservation)s)",
        {
            "id": turn.conversation_id,
            "ws": context.workspace_id,
            "agent": context.agent_id,
            "channel": channel,
            "status": turn.status,
            "version": context.version,
            "new": turn.is_new,
            "in": turn.usage["input_tokens"],
            "out": turn.usage["output_tokens"],
            "messages": Jsonb(turn.messages),
            "visitor": turn.visitor_sub,
            "reservation": turn.reservation_id,
        },
    )
