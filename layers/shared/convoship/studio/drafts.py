"""Wizard drafts: free-form JSON a user saves while setting up an agent.

Drafts are workspace-level (audited to audit_log only) and purged once stale. The audit
states summarise the data (top-level keys and size) rather than copying it.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from convoship.audit.record import Actor, record
from convoship.core.errors import NotFound
from convoship.core.validation import check_json_document, json_size
from convoship.db.connection import Connection

MAX_DRAFT_BYTES = 256 * 1024
DRAFT_COLUMNS = "id, data, created_by, created_at, updated_at"


def _summary(data: dict[str, Any]) -> dict[str, Any]:
    return {"keys": sorted(data)[:50], "bytes": json_size(data)}


def _not_found(draft_id: UUID) -> NotFound:
    return NotFound(f"no draft {draft_id}")


def list_drafts(conn: Connection, workspace_id: object) -> list[dict[str, Any]]:
    """The workspace's drafts, most recently saved first."""
    return conn.execute(
        f"SELECT {DRAFT_COLUMNS} FROM ai_agent_drafts WHERE workspace_id = %s"
        " ORDER BY updated_at DESC, id DESC",
        (workspace_id,),
    ).fetchall()


def get_draft(conn: Connection, workspace_id: object, draft_id: UUID) -> dict[str, Any]:
    row = conn.execute(
        f"SELECT {DRAFT_COLUMNS} FROM ai_agent_drafts WHERE workspace_id = %s AND id = %s",
        (workspace_id, draft_id),
    ).fetchone()
    if row is None:
        raise _not_found(draft_id)
    return row


def create_draft(conn: Connection, actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
    check_json_document(data, MAX_DRAFT_BYTES, ("body", "data"), status=413)
    try:
        row = conn.execute(
            "INSERT INTO ai_agent_drafts (workspace_id, data, created_by) VALUES (%s, %s, %s)"
            f" RETURNING {DRAFT_COLUMNS}",
            (actor.workspace_id, Jsonb(data), actor.actor_id),
        ).fetchone()
    except psycopg.errors.ForeignKeyViolation:
        raise NotFound("workspace not found") from None
    assert row is not None
    record(
        conn,
        actor,
        action="draft.created",
        resource_type="agent_draft",
        resource_id=row["id"],
        after=_summary(data),
    )
    return row


def update_draft(
    conn: Connection, actor: Actor, draft_id: UUID, data: dict[str, Any]
) -> dict[str, Any]:
    """Replace the draft's data."""
    check_json_document(data, MAX_DRAFT_BYTES, ("body", "data"), status=413)
    row = conn.execute(
        "UPDATE ai_agent_drafts d SET data = %s, updated_at = now()"
        " FROM (SELECT id, data FROM ai_agent_drafts WHERE workspace_id = %s AND id = %s"
        "       FOR UPDATE) AS old"
        " WHERE d.id = old.id"
        " RETURNING d.id, d.data, d.created_by, d.created_at, d.updated_at, old.data AS old_data",
        (Jsonb(data), actor.workspace_id, draft_id),
    ).fetchone()
    if row is None:
        raise _not_found(draft_id)
    old_data = row.pop("old_data")
    record(
        conn,
        actor,
        action="draft.updated",
        resource_type="agent_draft",
        resource_id=draft_id,
        before=_summary(old_data),
        after=_summary(data),
    )
    return row


def delete_draft(conn: Connection, actor: Actor, draft_id: UUID) -> None:
    row = conn.execute(
        "DELETE FROM ai_agent_drafts WHERE workspace_id = %s AND id = %s RETURNING data",
        (actor.workspace_id, draft_id),
    ).fetchone()
    if row is None:
        raise _not_found(draft_id)
    record(
        conn,
        actor,
        action="draft.deleted",
        resource_type="agent_draft",
        resource_id=draft_id,
        before=_summary(row["data"]),
    )
