"""The agent and the rows it owns (guardrails, tools, evals), read and written one way:
resolved by workspace and slug inside the SQL (no lookup round trip), every write audited
in the same transaction with its before and after state.

Updates follow one shape, written here once: lock the current row, merge the changes and
validate the result (the resource module's `merge`), update, audit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg

from convoship.audit.record import Actor, AgentRef, record
from convoship.core.errors import Conflict, NotFound
from convoship.db.connection import Connection

# The agent of the request, by workspace and slug: use with params "ws" and "slug".
AGENT_ID = "(SELECT id FROM ai_agents WHERE workspace_id = %(ws)s AND slug = %(slug)s)"


def agent_not_found(slug: str) -> NotFound:
    return NotFound(f"no agent with slug {slug!r}")


def rows_of_agent(
    conn: Connection, workspace_id: object, slug: str, query: str, params: dict[str, Any]
) -> list[dict[str, Any]]:
    """Rows of a per-agent query (written with AGENT_ID), sent together with the agent's
    existence check in one round trip; NotFound when the agent does not exist."""
    scope = {"ws": workspace_id, "slug": slug}
    agent = conn.execute(
        "SELECT 1 FROM ai_agents WHERE workspace_id = %(ws)s AND slug = %(slug)s", scope
    )
    rows = conn.execute(query, {**scope, **params})
    if agent.fetchone() is None:
        raise agent_not_found(slug)
    return rows.fetchall()


@dataclass(frozen=True)
class Owned:
    """A kind of row: its audit name, table and columns, the fields its audit states keep,
    and how one row is found (SQL over params ws, slug and id)."""

    kind: str  # audit resource_type, and the action prefix (`tool.updated`)
    table: str
    columns: str
    state_fields: tuple[str, ...]
    where: str = f"id = %(id)s AND agent_id = {AGENT_ID}"
    agent_id_column: str = "agent_id"

    def state(self, row: dict[str, Any]) -> dict[str, Any]:
        """The audited before/after state: never a secret value."""
        return {k: row[k] for k in self.state_fields}

    def missing(self, slug: str, item_id: object) -> NotFound:
        return NotFound(f"no {self.kind} {item_id} on agent {slug!r}")

    def audit(
        self,
        conn: Connection,
        actor: Actor,
        slug: str,
        row: dict[str, Any],
        action: str,
        **states: Any,
    ) -> None:
        """Record `<kind>.<action>` on row (in this transaction), with its agent."""
        record(
            conn,
            actor,
            action=f"{self.kind}.{action}",
            resource_type=self.kind,
            resource_id=row["id"],
            agent=AgentRef(row[self.agent_id_column], slug),
            **states,
        )

    def list(
        self, conn: Connection, workspace_id: object, slug: str, order: str
    ) -> list[dict[str, Any]]:
        query = (
            f"SELECT {self.columns} FROM {self.table} WHERE agent_id = {AGENT_ID} ORDER BY {order}"
        )
        return rows_of_agent(conn, workspace_id, slug, query, {})

    def get(
        self, conn: Connection, workspace_id: object, slug: str, item_id: object
    ) -> dict[str, Any]:
        row = conn.execute(
            f"SELECT {self.columns} FROM {self.table} WHERE {self.where}",
            {"id": item_id, "ws": workspace_id, "slug": slug},
        ).fetchone()
        if row is None:
            raise self.missing(slug, item_id)
        return row

    def create(
        self,
        conn: Connection,
        actor: Actor,
        slug: str,
        values: dict[str, Any],
        *,
        conflict: Callable[[], Conflict] | None = None,
    ) -> dict[str, Any]:
        """Insert a row for the agent (404 when there is none) and audit it."""
        names = ", ".join(values)
        placeholders = ", ".join(f"%({name})s" for name in values)
        query = (
            f"INSERT INTO {self.table} (workspace_id, agent_id, {names})"
            f" SELECT a.workspace_id, a.id, {placeholders} FROM ai_agents a"
            f" WHERE a.id = {AGENT_ID} RETURNING {self.columns}"
        )
        row = _guarded(
            lambda: conn.execute(query, {**values, "ws": actor.workspace_id, "slug": slug}),
            conflict,
        )
        if row is None:
            raise agent_not_found(slug)
        self.audit(conn, actor, slug, row, "created", after=self.state(row))
        return row

    def update(
        self,
        conn: Connection,
        actor: Actor,
        slug: str,
        item_id: object,
        merge: Callable[[dict[str, Any]], dict[str, Any]],
        *,
        conflict: Callable[[dict[str, Any]], Conflict] | None = None,
    ) -> dict[str, Any]:
        """Lock the row, let merge turn it into the validated column values, update, audit."""
        current = conn.execute(
            f"SELECT {self.columns} FROM {self.table} WHERE {self.where} FOR UPDATE",
            {"id": item_id, "ws": actor.workspace_id, "slug": slug},
        ).fetchone()
        if current is None:
            raise self.missing(slug, item_id)
        values = merge(current)
        assignments = ", ".join(f"{name} = %({name})s" for name in values)
        query = (
            f"UPDATE {self.table} SET {assignments}, updated_at = now()"
            f" WHERE id = %(row_id)s RETURNING {self.columns}"
        )
        row = _guarded(
            lambda: conn.execute(query, {**values, "row_id": current["id"]}),
            (lambda: conflict(values)) if conflict else None,
        )
        assert row is not None
        self.audit(
            conn, actor, slug, row, "updated", before=self.state(current), after=self.state(row)
        )
        return row

    def delete(self, conn: Connection, actor: Actor, slug: str, item_id: object) -> None:
        """Delete the row and audit it."""
        row = conn.execute(
            f"DELETE FROM {self.table} WHERE {self.where} RETURNING {self.columns}",
            {"id": item_id, "ws": actor.workspace_id, "slug": slug},
        ).fetchone()
        if row is None:
            raise self.missing(slug, item_id)
        self.audit(conn, actor, slug, row, "deleted", before=self.state(row))


def _guarded(
    execute: Callable[[], psycopg.Cursor[dict[str, Any]]],
    conflict: Callable[[], Conflict] | None,
) -> dict[str, Any] | None:
    """The statement's row; a unique violation becomes the resource's 409 when it has one.
    (In pipeline mode the clash may surface at the execute or at the fetch.)"""
    try:
        return execute().fetchone()
    except psycopg.errors.UniqueViolation:
        if conflict is None:
            raise
        raise conflict() from None
