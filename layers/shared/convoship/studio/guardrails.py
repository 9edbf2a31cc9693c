"""Guardrails of an agent: list, create, update, delete (one per kind); audited."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from convoship.audit.record import Actor, record
from convoship.core.errors import Conflict, NotFound, ValidationFailed
from convoship.db.connection import Connection
from convoship.secrets.refs import reference_name
from convoship.secrets.store import lock_existing_names
from convoship.studio.agents import (
    AGENT_ID,
    GUARDRAIL_COLUMNS,
    agent_ref,
    delete_owned,
    not_found,
    rows_of_agent,
)
from convoship.studio.guardrail_configs import GUARDRAIL_KINDS, normalized_config

_KIND_ORDER = "array_position(ARRAY['AUTH','LIMIT','REDACT','ESCALATE','BUDGET'], kind)"


def _state(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("kind", "config", "enabled")}


def _require_referenced_secret(conn: Connection, workspace_id: object, config: Any) -> None:
    """AUTH's visitor_token_secret must name an existing workspace secret (share-locked,
    so it cannot be deleted before this transaction commits)."""
    name = reference_name(config.get("visitor_token_secret"))
    if name is not None and not lock_existing_names(conn, workspace_id, [name]):
        raise ValidationFailed.at(
            ("body", "config", "visitor_token_secret"),
            f"secret {name} does not exist in this workspace; create it first",
        )


def _not_found(guardrail_id: UUID, slug: str) -> NotFound:
    return NotFound(f"no guardrail {guardrail_id} on agent {slug!r}")


def list_guardrails(conn: Connection, workspace_id: object, slug: str) -> list[dict[str, Any]]:
    return rows_of_agent(
        conn,
        workspace_id,
        slug,
        f"SELECT {GUARDRAIL_COLUMNS} FROM ai_agent_guardrails"
        f" WHERE agent_id = {AGENT_ID} ORDER BY {_KIND_ORDER}",
        {},
    )


def get_guardrail(
    conn: Connection, workspace_id: object, slug: str, guardrail_id: UUID
) -> dict[str, Any]:
    row = conn.execute(
        f"SELECT {GUARDRAIL_COLUMNS} FROM ai_agent_guardrails"
        f" WHERE id = %(id)s AND agent_id = {AGENT_ID}",
        {"id": guardrail_id, "ws": workspace_id, "slug": slug},
    ).fetchone()
    if row is None:
        raise _not_found(guardrail_id, slug)
    return row


def create_guardrail(
    conn: Connection,
    actor: Actor,
    slug: str,
    *,
    kind: str,
    config: dict[str, Any] | None,
    enabled: bool,
) -> dict[str, Any]:
    """Add the guardrail of kind (its default config where none is given); 409 when the
    agent already has one of that kind."""
    assert kind in GUARDRAIL_KINDS
    stored = normalized_config(kind, config or {})
    if kind == "AUTH":
        _require_referenced_secret(conn, actor.workspace_id, stored)
    try:
        row = conn.execute(
            "INSERT INTO ai_agent_guardrails (workspace_id, agent_id, kind, config, enabled)"
            " SELECT a.workspace_id, a.id, %(kind)s, %(config)s, %(enabled)s FROM ai_agents a"
            f" WHERE a.id = {AGENT_ID} RETURNING {GUARDRAIL_COLUMNS}",
            {
                "kind": kind,
                "config": Jsonb(stored),
                "enabled": enabled,
                "ws": actor.workspace_id,
                "slug": slug,
            },
        ).fetchone()
    except psycopg.errors.UniqueViolation:
        raise Conflict(f"agent {slug!r} already has a {kind} guardrail", kind=kind) from None
    if row is None:
        raise not_found(slug)
    record(
        conn,
        actor,
        action="guardrail.created",
        resource_type="guardrail",
        resource_id=row["id"],
        agent=agent_ref(row, slug),
        after=_state(row),
    )
    return row


def update_guardrail(
    conn: Connection, actor: Actor, slug: str, guardrail_id: UUID, changes: dict[str, Any]
) -> dict[str, Any]:
    """Change enabled and/or config (merged onto the current config, validated whole)."""
    current = conn.execute(
        f"SELECT {GUARDRAIL_COLUMNS} FROM ai_agent_guardrails"
        f" WHERE id = %(id)s AND agent_id = {AGENT_ID} FOR UPDATE",
        {"id": guardrail_id, "ws": actor.workspace_id, "slug": slug},
    ).fetchone()
    if current is None:
        raise _not_found(guardrail_id, slug)
    config = current["config"]
    if "config" in changes:
        config = normalized_config(current["kind"], {**config, **changes["config"]})
        if current["kind"] == "AUTH":
            _require_referenced_secret(conn, actor.workspace_id, config)
    enabled = changes.get("enabled", current["enabled"])
    row = conn.execute(
        "UPDATE ai_agent_guardrails SET config = %s, enabled = %s, updated_at = now()"
        f" WHERE id = %s RETURNING {GUARDRAIL_COLUMNS}",
        (Jsonb(config), enabled, guardrail_id),
    ).fetchone()
    assert row is not None
    record(
        conn,
        actor,
        action="guardrail.updated",
        resource_type="guardrail",
        resource_id=guardrail_id,
        agent=agent_ref(row, slug),
        before=_state(current),
        after=_state(row),
    )
    return row


def delete_guardrail(conn: Connection, actor: Actor, slug: str, guardrail_id: UUID) -> None:
    delete_owned(
        conn,
        actor,
        slug,
        guardrail_id,
        kind="guardrail",
        table="ai_agent_guardrails",
        columns=GUARDRAIL_COLUMNS,
        state=_state,
    )
