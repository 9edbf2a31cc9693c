"""Compliance search over a workspace's audit_log: filtered, newest first, keyset paged."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import sql

from convoship.core.errors import ValidationFailed
from convoship.db.connection import Connection


@dataclass(frozen=True)
class AuditFilter:
    action: str | None = None
    actor_id: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def encode_cursor(occurred_at: datetime, row_id: UUID) -> str:
    raw = json.dumps([occurred_at.isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        occurred_at, row_id = json.loads(raw)
        return datetime.fromisoformat(occurred_at), UUID(row_id)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise ValidationFailed.at(("query", "cursor"), "cursor is not valid") from None


def search_audit_log(
    conn: Connection,
    workspace_id: object,
    filters: AuditFilter,
    *,
    limit: int,
    cursor: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    clauses = [sql.SQL("workspace_id = {}").format(sql.Literal(workspace_id))]
    for column in ("action", "actor_id", "resource_type", "resource_id"):
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
        " request_id, before_state, after_state FROM audit_log WHERE {}"
        " ORDER BY occurred_at DESC, id DESC LIMIT {}"
    ).format(sql.SQL(" AND ").join(clauses), sql.Literal(limit + 1))
    rows = conn.execute(query).fetchall()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1]["occurred_at"], rows[-1]["id"])
    return rows, next_cursor
