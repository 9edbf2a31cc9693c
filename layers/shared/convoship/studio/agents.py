"""Agents: create (with the five default guardrails), read, update, delete; audited."""

import re
import secrets
from typing import Annotated, Any
from uuid import uuid4

import psycopg
from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict, Field

from convoship.audit.record import Actor
from convoship.core.errors import Conflict, NotFound, ValidationFailed
from convoship.core.validation import validate_as
from convoship.db.connection import Connection
from convoship.studio.guardrail_configs import default_guardrails
from convoship.studio.guardrails import GUARDRAILS
from convoship.studio.owned import Owned, agent_not_found

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
AGENT_COLUMNS = (
    "id, slug, name, description, config, public_token, published_version,"
    " created_by, created_at, updated_at"
)
_INSERT_AGENT = (
    "INSERT INTO ai_agents (id, workspace_id, slug, name, description, config, public_token,"
    " created_by) VALUES (%(id)s, %(ws)s, %(slug)s, %(name)s, %(description)s, %(config)s,"
    f" %(token)s, %(by)s) RETURNING {AGENT_COLUMNS}"
)
_INSERT_DEFAULT_GUARDRAILS = (
    "INSERT INTO ai_agent_guardrails (workspace_id, agent_id, kind, config)"
    " SELECT %(ws)s, %(id)s, d.kind, d.config"
    " FROM jsonb_to_recordset(%(defaults)s) AS d(kind text, config jsonb)"
    f" RETURNING {GUARDRAILS.columns}"
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
    import unicodedata  # lazy: a C extension only agents created without a slug need

    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:63].rstrip("-")


class _Agents(Owned):
    def missing(self, slug: str, item_id: object) -> NotFound:
        return agent_not_found(slug)


AGENTS = _Agents(
    kind="agent",
    table="ai_agents",
    columns=AGENT_COLUMNS,
    state_fields=("slug", "name", "description", "config"),
    where="workspace_id = %(ws)s AND slug = %(slug)s",
    agent_id_column="id",
)


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
    if not SLUG.fullmatch(slug):
        raise ValidationFailed.at(
            ("body", "slug"), f"cannot derive a valid slug from name {name!r}; send a slug"
        )
    agent_id = uuid4()
    defaults = default_guardrails()
    params = {
        "id": agent_id,
        "ws": actor.workspace_id,
        "slug": slug,
        "name": name,
        "description": description,
        "config": Jsonb(config.model_dump()),
        "token": secrets.token_urlsafe(32),
        "by": actor.actor_id,
        "defaults": Jsonb([{"kind": k, "config": c} for k, c in defaults.items()]),
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
    guardrails = sorted(seeded.fetchall(), key=lambda g: list(defaults).index(g["kind"]))
    AGENTS.audit(conn, actor, slug, agent, "created", after=AGENTS.state(agent))
    return agent, guardrails


def list_agents(conn: Connection, workspace_id: object) -> list[dict[str, Any]]:
    return conn.execute(
        f"SELECT {AGENT_COLUMNS} FROM ai_agents WHERE workspace_id = %s ORDER BY slug",
        (workspace_id,),
    ).fetchall()


def get_agent(conn: Connection, workspace_id: object, slug: str) -> dict[str, Any]:
    return AGENTS.get(conn, workspace_id, slug, None)


def update_agent(
    conn: Connection, actor: Actor, slug: str, changes: dict[str, Any]
) -> dict[str, Any]:
    """Apply name / description / config changes; config is merged onto the current one
    and the result validated whole."""

    def merge(current: dict[str, Any]) -> dict[str, Any]:
        merged = {**AGENTS.state(current), **{k: v for k, v in changes.items() if k != "config"}}
        config = current["config"]
        if "config" in changes:
            config = validate_as(
                AgentConfig, {**current["config"], **changes["config"]}, ("body", "config")
            ).model_dump()
        return {
            "name": merged["name"],
            "description": merged["description"],
            "config": Jsonb(config),
        }

    return AGENTS.update(conn, actor, slug, None, merge)


def delete_agent(conn: Connection, actor: Actor, slug: str) -> None:
    """Delete the agent and everything it owns; its audit events stay."""
    AGENTS.delete(conn, actor, slug, None)
