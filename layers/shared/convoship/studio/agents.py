"""Agents: create (with the five default guardrails), read, update, delete; audited.

Sub-resources (guardrails, tools, evals, versions, ...) resolve their agent by slug inside
their own SQL with AGENT_ID, so a request does not pay a separate lookup round trip.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Callable
from typing import Annotated, Any
from uuid import UUID, uuid4

import psycopg
from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict, Field

from convoship.audit.record import Actor, AgentRef, record
from convoship.core.errors import Conflict, NotFound, ValidationFailed
from convoship.core.validation import validate_as
from convoship.db.connection import Connection
from convoship.studio.guardrail_configs import DEFAULT_GUARDRAILS

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
# The agent of the request, by workspace and slug: use with params "ws" and "slug".
AGENT_ID = "(SELECT id FROM ai_agents WHERE workspace_id = %(ws)s AND slug = %(slug)s)"
AGENT_COLUMNS = (
    "id, slug, name, description, config, public_token, published_version,"
    " created_by, created_at, updated_at"
)
GUARDRAIL_COLUMNS = "id, agent_id, kind, config, enabled, created_at, updated_at"
_INSERT_AGENT = (
    "INSERT INTO ai_agents (id, workspace_id, slug, name, description, config, public_token,"
    " created_by) VALUES (%(id)s, %(ws)s, %(slug)s, %(name)s, %(description)s, %(config)s,"
    f" %(token)s, %(by)s) RETURNING {AGENT_COLUMNS}"
)
_INSERT_DEFAULT_GUARDRAILS = (
    "INSERT INTO ai_agent_guardrails (workspace_id, agent_id, kind, config)"
    " SELECT %(ws)s, %(id)s, d.kind, d.config"
    " FROM jsonb_to_recordset(%(defaults)s) AS d(kind text, config jsonb)"
    f" RETURNING {GUARDRAIL_COLUMNS}"
)


class AgentConfig(BaseModel):
    """The draft configuration of an agent, snapshotted into each published version."""

    model_config = ConfigDict(extra="forbid", strict=True, protected_namespaces=())

    system_prompt: Annotated[str, Field(max_length=20_000)] = ""
    greeting: Annotated[str, Field(max_length=2000)] | None = None
    model: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] = 0.7
    max_output_tokens: Annotated[int, Field(ge=1, le=32_000)] = 1024


def slug_from_name(name: str) -> str:
    """`Café Support Bot!` -> `cafe-support-bot`: ASCII, lowercase, dashes, at most 63."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:63].rstrip("-")


def not_found(slug: str) -> NotFound:
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
        raise not_found(slug)
    return rows.fetchall()


def agent_ref(row: dict[str, Any], slug: str) -> AgentRef:
    return AgentRef(id=row["agent_id"], slug=slug)


def delete_owned(
    conn: Connection,
    actor: Actor,
    slug: str,
    item_id: UUID,
    *,
    kind: str,
    table: str,
    columns: str,
    state: Callable[[dict[str, Any]], dict[str, Any]],
) -> None:
    """Delete one row the agent owns (a tool, an eval, a guardrail) and audit it."""
    query = f"DELETE FROM {table} WHERE id = %(id)s AND agent_id = {AGENT_ID} RETURNING {columns}"
    row = conn.execute(
        query.encode(),
        {"id": item_id, "ws": actor.workspace_id, "slug": slug},
    ).fetchone()
    if row is None:
        raise NotFound(f"no {kind} {item_id} on agent {slug!r}")
    record(
        conn,
        actor,
        action=f"{kind}.deleted",
        resource_type=kind,
        resource_id=item_id,
        agent=agent_ref(row, slug),
        before=state(row),
    )


def _state(agent: dict[str, Any]) -> dict[str, Any]:
    return {k: agent[k] for k in ("slug", "name", "description", "config")}


def create_agent(
    conn: Connection,
    actor: Actor,
    *,
    name: str,
    slug: str | None,
    description: str | None,
    config: AgentConfig,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Insert the agent and its default guardrails in one round trip; (agent, guardrails)."""
    slug = slug or slug_from_name(name)
    if not SLUG.match(slug):
        raise ValidationFailed.at(
            ("body", "slug"), f"cannot derive a valid slug from name {name!r}; send a slug"
        )
    agent_id = uuid4()
    params = {
        "id": agent_id,
        "ws": actor.workspace_id,
        "slug": slug,
        "name": name,
        "description": description,
        "config": Jsonb(config.model_dump()),
        "token": secrets.token_urlsafe(32),
        "by": actor.actor_id,
        "defaults": Jsonb([{"kind": k, "config": c} for k, c in DEFAULT_GUARDRAILS.items()]),
    }
    # Pipeline mode: the clash may surface at the second execute or at the fetch.
    try:
        inserted = conn.execute(_INSERT_AGENT, params)
        seeded = conn.execute(_INSERT_DEFAULT_GUARDRAILS, params)
        agent = inserted.fetchone()
    except psycopg.errors.UniqueViolation:
        raise Conflict(f"an agent with slug {slug!r} already exists") from None
    except psycopg.errors.ForeignKeyViolation:
        raise NotFound("workspace not found") from None
    assert agent is not None
    guardrails = sorted(seeded.fetchall(), key=lambda g: list(DEFAULT_GUARDRAILS).index(g["kind"]))
    record(
        conn,
        actor,
        action="agent.created",
        resource_type="agent",
        resource_id=agent_id,
        agent=AgentRef(agent_id, slug),
        after=_state(agent),
    )
    return agent, guardrails


def list_agents(conn: Connection, workspace_id: object) -> list[dict[str, Any]]:
    return conn.execute(
        f"SELECT {AGENT_COLUMNS} FROM ai_agents WHERE workspace_id = %s ORDER BY slug",
        (workspace_id,),
    ).fetchall()


def get_agent(conn: Connection, workspace_id: object, slug: str) -> dict[str, Any]:
    row = conn.execute(
        f"SELECT {AGENT_COLUMNS} FROM ai_agents WHERE workspace_id = %s AND slug = %s",
        (workspace_id, slug),
    ).fetchone()
    if row is None:
        raise not_found(slug)
    return row


def update_agent(
    conn: Connection, actor: Actor, slug: str, changes: dict[str, Any]
) -> dict[str, Any]:
    """Apply name / description / config changes; config is merged onto the current one
    and the result validated whole."""
    current = conn.execute(
        f"SELECT {AGENT_COLUMNS} FROM ai_agents WHERE workspace_id = %s AND slug = %s FOR UPDATE",
        (actor.workspace_id, slug),
    ).fetchone()
    if current is None:
        raise not_found(slug)
    merged = {**_state(current), **{k: v for k, v in changes.items() if k != "config"}}
    if "config" in changes:
        config = validate_as(
            AgentConfig, {**current["config"], **changes["config"]}, ("body", "config")
        )
        merged["config"] = config.model_dump()
    updated = conn.execute(
        "UPDATE ai_agents SET name = %(name)s, description = %(description)s,"
        " config = %(config)s, updated_at = now()"
        f" WHERE id = %(id)s RETURNING {AGENT_COLUMNS}",
        {**merged, "config": Jsonb(merged["config"]), "id": current["id"]},
    ).fetchone()
    assert updated is not None
    record(
        conn,
        actor,
        action="agent.updated",
        resource_type="agent",
        resource_id=current["id"],
        agent=AgentRef(current["id"], slug),
        before=_state(current),
        after=_state(updated),
    )
    return updated


def delete_agent(conn: Connection, actor: Actor, slug: str) -> None:
    """Delete the agent and everything it owns; its audit events stay."""
    deleted = conn.execute(
        "DELETE FROM ai_agents WHERE workspace_id = %s AND slug = %s"
        " RETURNING id, slug, name, description, config",
        (actor.workspace_id, slug),
    ).fetchone()
    if deleted is None:
        raise not_found(slug)
    agent_id: UUID = deleted["id"]
    record(
        conn,
        actor,
        action="agent.deleted",
        resource_type="agent",
        resource_id=agent_id,
        agent=AgentRef(agent_id, slug),
        before=_state(deleted),
    )
