"""What happened to an agent, read only: versions, conversations, audit events."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from convoship.core.errors import NotFound
from convoship.db.connection import Connection
from convoship.db.paging import Page, decode_cursor, page_of
from convoship.studio.owned import AGENT_ID, rows_of_agent

VERSION_COLUMNS = (
    "version, config, guardrails, tools, eval_results, eval_pass_rate, eval_threshold, note,"
    " created_by, created_at"
)
CONVERSATION_COLUMNS = "id, channel, status, version, usage, turns, created_at, updated_at"
MESSAGE_COLUMNS = "seq, role, content, tool_name, tool_args, created_at"
AUDIT_EVENT_COLUMNS = (
    "id, occurred_at, actor_type, actor_id, action, resource_type, resource_id, agent_id,"
    " agent_slug, request_id, before_state, after_state"
)


def _newest_first(
    conn: Connection,
    workspace_id: object,
    slug: str,
    select: str,
    time_column: str,
    *,
    limit: int,
    cursor: str | None,
) -> Page:
    """One keyset page, newest first on (time_column, id), of the agent's rows: `select`
    is a query written with AGENT_ID and no ORDER BY."""
    params: dict[str, Any] = {"limit": limit + 1}
    after = ""
    if cursor is not None:
        params["at"], params["row_id"] = decode_cursor(cursor)
        after = f" AND ({time_column}, id) < (%(at)s, %(row_id)s)"
    query = f"{select}{after} ORDER BY {time_column} DESC, id DESC LIMIT %(limit)s"
    return page_of(rows_of_agent(conn, workspace_id, slug, query, params), limit, time_column)


def list_versions(conn: Connection, workspace_id: object, slug: str) -> list[dict[str, Any]]:
    """Published versions, newest first."""
    query = (
        f"SELECT {VERSION_COLUMNS} FROM ai_agent_versions WHERE agent_id = {AGENT_ID}"
        " ORDER BY version DESC"
    )
    return rows_of_agent(conn, workspace_id, slug, query, {})


def get_version(conn: Connection, workspace_id: object, slug: str, version: int) -> dict[str, Any]:
    query = (
        f"SELECT {VERSION_COLUMNS} FROM ai_agent_versions"
        f" WHERE agent_id = {AGENT_ID} AND version = %(version)s"
    )
    rows = rows_of_agent(conn, workspace_id, slug, query, {"version": version})
    if not rows:
        raise NotFound(f"agent {slug!r} has no version {version}")
    return rows[0]


def list_conversations(
    conn: Connection, workspace_id: object, slug: str, *, limit: int, cursor: str | None
) -> Page:
    """Conversations, newest first, keyset-paged on (created_at, id)."""
    select = (
        f"SELECT {CONVERSATION_COLUMNS} FROM ai_agent_conversations WHERE agent_id = {AGENT_ID}"
    )
    return _newest_first(conn, workspace_id, slug, select, "created_at", limit=limit, cursor=cursor)


def get_conversation(
    conn: Connection, workspace_id: object, slug: str, conversation_id: UUID
) -> dict[str, Any]:
    """The conversation with its messages in order; both queries travel in one round trip.
    The messages are read by conversation id alone and used only once the first query has
    shown that the conversation belongs to this agent."""
    scope = {"id": conversation_id, "ws": workspace_id, "slug": slug}
    conversation = conn.execute(
        f"SELECT {CONVERSATION_COLUMNS} FROM ai_agent_conversations"
        f" WHERE id = %(id)s AND agent_id = {AGENT_ID}",
        scope,
    )
    messages = conn.execute(
        f"SELECT {MESSAGE_COLUMNS} FROM ai_agent_messages"
        " WHERE workspace_id = %(ws)s AND conversation_id = %(id)s ORDER BY seq",
        scope,
    )
    row = conversation.fetchone()
    if row is None:
        raise NotFound(f"no conversation {conversation_id} on agent {slug!r}")
    return {**row, "messages": messages.fetchall()}


def list_audit_events(
    conn: Connection, workspace_id: object, slug: str, *, limit: int, cursor: str | None = None
) -> Page:
    """The agent's audit events, newest first (occurred_at DESC, id DESC)."""
    select = (
        f"SELECT {AUDIT_EVENT_COLUMNS} FROM ai_agent_audit_events"
        f" WHERE workspace_id = %(ws)s AND agent_id = {AGENT_ID}"
    )
    return _newest_first(
        conn, workspace_id, slug, select, "occurred_at", limit=limit, cursor=cursor
    )
