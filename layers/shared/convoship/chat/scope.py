"""Which agent a chat turn runs, and the RLS scope it runs under: one value per channel."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from convoship.chat.published_read import read_published_turn
from convoship.db.connection import Connection
from convoship.runtime.snapshot import RunContext, read_draft


@dataclass(frozen=True)
class ChannelScope:
    """The playground runs a workspace's draft by slug; the embed, the latest published
    version behind a public token. `agent_sql` selects the agent's id with `params`.
    `read_context` answers the run context and, when it reads them too, the tokens the agent
    used today (None: the conversation's read queues them)."""

    channel: str  # "playground" | "embed"
    transaction: dict[str, Any]  # the keyword of rls_transaction / read_transaction
    agent_sql: str
    params: dict[str, Any]
    read_context: Callable[[Connection], tuple[RunContext, int | None]]
    context_reads_usage: bool = False

    @property
    def is_embed(self) -> bool:
        return self.channel == "embed"

    @classmethod
    def playground(cls, workspace_id: UUID, slug: str) -> ChannelScope:
        return cls(
            channel="playground",
            transaction={"workspace_id": workspace_id},
            agent_sql="(SELECT id FROM ai_agents WHERE workspace_id = %(ws)s AND slug = %(slug)s)",
            params={"ws": workspace_id, "slug": slug},
            read_context=lambda conn: (read_draft(conn, workspace_id, slug), None),
        )

    @classmethod
    def embed(cls, public_token: str) -> ChannelScope:
        return cls(
            channel="embed",
            transaction={"public_token": public_token},
            agent_sql="(SELECT id FROM ai_agents WHERE public_token = %(token)s)",
            params={"token": public_token},
            read_context=lambda conn: read_published_turn(conn, public_token),
            context_reads_usage=True,
        )
