"""Compliance search over a workspace's audit_log: filtered, newest first, keyset paged.

Filtering on agent_id or agent_slug answers "what happened to agent X", deleted or not."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from psycopg import sql

from convoship.db.connection import Connection
from convoship.db.paging import Page, decode_cursor, page_of


@dataclass(frozen=True)
class AuditFilter:
    action: str | None = None
    actor_id: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    agent_id: UUID | None = None
    agent_slug: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def search_audit_log(
    conn: Connection,
    workspace_id: object,
    filters: AuditFilter,
    *,
    limit: int,
    cursor: str | None = None,
) -> Page:
    clauses = [sql.SQL("workspace_id = {}").format(sql.Literal(workspace_id))]
    for column in ("action", "actor_id", "resource_type", "resource_id", "agent_id", "agent_slug"):
        value = getattr(filters, column)
        if value is not None:
            clauses.append(sql.SQL("{} = {}").format(sql.Identifier(column), sql.Literal(value)))
    if filters.since is not None:
        clauses.append(sql.SQL("occurred_at >= {}").format(sql.Literal(filters.since)))
    if filters.until is not None:
        clauses.append(sql.SQL("occurred_at < {}").format(sql.Literal(filters.until)))
    if cursor is not None:
        at, row_id = decode_cursor(cursor)
        clauses.append(
            sql.SQL("(occurred_at, id) < ({}, {})").format(sql.Literal(at), sql.Literal(row_id))
        )
    query = sql.SQL(
        "SELECT id, occurred_at, actor_type, actor_id, action, resource_type, resource_id,"
        " agent_id, agent_slug, request_id, before_state, after_state, seq, prev_hash, hash"
        " FROM audit_log WHERE {}"
        " ORDER BY occurred_at DESC, id DESC LIMIT {}"
    ).format(sql.SQL(" AND ").join(clauses), sql.Literal(limit + 1))
    return page_of(conn.execute(query).fetchall(), limit, "occurred_at")
