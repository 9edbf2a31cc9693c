"""A workspace's row of a settings table, written whole: insert or update in one statement."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from convoship.core.errors import NotFound
from convoship.db.connection import Connection


def upsert_settings_row(
    conn: Connection, table: str, columns: dict[str, Any], workspace_id: object, actor_id: str
) -> dict[str, Any]:
    """Insert or update the workspace's row of a settings table; returns the new row."""
    names = [sql.Identifier(n) for n in columns]
    query = sql.SQL(
        "INSERT INTO {table} (workspace_id, updated_by, {cols}) VALUES"
        " (%(workspace_id)s, %(updated_by)s, {values}) ON CONFLICT (workspace_id) DO UPDATE"
        " SET {updates}, updated_at = now(), updated_by = EXCLUDED.updated_by RETURNING *"
    ).format(
        table=sql.Identifier(table),
        cols=sql.SQL(", ").join(names),
        values=sql.SQL(", ").join(sql.Placeholder(n) for n in columns),
        updates=sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(n) for n in names),
    )
    params = {"workspace_id": workspace_id, "updated_by": actor_id, **columns}
    try:
        row = conn.execute(query, params).fetchone()
    except psycopg.errors.ForeignKeyViolation:
        raise NotFound("workspace not found") from None
    assert row is not None
    return row
