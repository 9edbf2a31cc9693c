"""Which agent a chat turn runs, and the RLS scope it runs under: one value per channel."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from convoship.chat.published_read import read_published_turn
from convoship.db.connection import Connection
from convoship.runtime.snapshot import RunContext, read_draft

# The playground's agent: a workspace's, by slug (with params ws and slug).
_DRAFT_AGENT_SQL = "(SELECT id FROM ai_agents WHERE workspace_id = %(ws)s AND slug = %(slug)s)"


@dataclass(frozen=True)
class ChannelScope:
    """The playground runs a workspace's draft by slug; the embed, the latest published
    version behind a public token. `agent_sql` selects the agent's id with `params`.
    `read_context` answers the run context and the tokens the agent used today (UTC), in
    the turn's read round trip, given a context of the same agent read before (or None),
    whose version documents the embed reuses while that version is the latest."""

    channel: str  # "playground" | "embed"
    transaction: dict[str, Any]  # the keyword of rls_transaction / read_transaction
    agent_sql: str
    params: dict[str, Any]
    read_context: Callable[[Connection, RunContext | None], tuple[RunContext, int]]

    @property
    def is_embed(self) -> bool:
        return self.channel == "embed"

    @classmethod
    def playground(cls, workspace_id: UUID, slug: str) -> ChannelScope:
        return cls(
            channel="playground",
            transaction={"workspace_id": workspace_id},
            agent_sql=_DRAFT_AGENT_SQL,
            params={"ws": workspace_id, "slug": slug},
            read_context=lambda conn, _: _read_draft_turn(conn, workspace_id, slug),
        )

    @classmethod
    def embed(cls, public_token: str) -> ChannelScope:
        return cls(
            channel="embed",
            transaction={"public_token": public_token},
            agent_sql="(SELECT id FROM ai_agents WHERE public_token = %(token)s)",
            params={"token": public_token},
            read_context=lambda conn, held: read_published_turn(conn, public_token, held),
        )


def _read_draft_turn(conn: Connection, workspace_id: UUID, slug: str) -> tuple[RunContext, int]:
    """The draft's run context and the tokens the agent used today (UTC), queued together."""
    usage = conn.execute(
        f"SELECT tokens FROM ai_agent_usage_daily WHERE agent_id = {_DRAFT_AGENT_SQL}"
        " AND day = (now() AT TIME ZONE 'utc')::date",
        {"ws": workspace_id, "slug": slug},
    )
    context = read_draft(conn, workspace_id, slug)
    today = usage.fetchone()
    return context, int(today["tokens"]) if today else 0
