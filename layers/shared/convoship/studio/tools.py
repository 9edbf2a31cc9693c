"""Tools of an agent: HTTP calls the model may make, with `{{secret:NAME}}` references.

A tool's config holds references only, never secret values; the names it references are
kept in `secret_refs` so a referenced secret cannot be deleted (settings API answers 409).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from convoship.audit.record import Actor, record
from convoship.core.errors import Conflict, NotFound, ValidationFailed
from convoship.core.validation import check_json_document, validate_as
from convoship.db.connection import Connection
from convoship.secrets.refs import referenced_secrets
from convoship.secrets.store import lock_existing_names
from convoship.studio.agents import AGENT_ID, agent_ref, delete_owned, not_found, rows_of_agent
from convoship.studio.tool_spec import (
    MAX_CONFIG_BYTES,
    HttpToolConfig,
    ToolSpec,
    check_placeholders,
    check_secret_reference_syntax,
    check_tool_url,
)

TOOL_COLUMNS = (
    "id, agent_id, name, description, handler_kind, config, input_schema, secret_refs,"
    " created_at, updated_at"
)


def _state(tool: dict[str, Any]) -> dict[str, Any]:
    """Audited before/after: config holds references, never secret values."""
    return {k: tool[k] for k in ("name", "description", "handler_kind", "config", "input_schema")}


def _checked_secret_refs(
    conn: Connection, workspace_id: object, config: HttpToolConfig
) -> list[str]:
    """Names the config references, each an existing workspace secret, share-locked until
    commit so a concurrent DELETE /v1/secrets cannot slip in between."""
    check_secret_reference_syntax(config)
    names = referenced_secrets(config.templated())
    missing = sorted(set(names) - lock_existing_names(conn, workspace_id, names))
    if missing:
        raise ValidationFailed(
            f"unknown secret(s): {', '.join(missing)}; create them with POST /v1/secrets first",
            [
                {"loc": ["body", "config"], "msg": f"secret {name} does not exist"}
                for name in missing
            ],
        )
    return names


def _vetted(
    conn: Connection, workspace_id: object, spec: ToolSpec, allow_private: bool
) -> tuple[dict[str, Any], list[str]]:
    config = spec.config.model_dump()
    check_json_document(config, MAX_CONFIG_BYTES, ("body", "config"))
    check_json_document(spec.input_schema, MAX_CONFIG_BYTES, ("body", "input_schema"))
    check_tool_url(spec.config.url, allow_private=allow_private)
    check_placeholders(spec)
    return config, _checked_secret_refs(conn, workspace_id, spec.config)


def _not_found(tool_id: UUID, slug: str) -> NotFound:
    return NotFound(f"no tool {tool_id} on agent {slug!r}")


def _conflict(name: str, slug: str) -> Conflict:
    return Conflict(f"agent {slug!r} already has a tool named {name!r}", name=name)


def list_tools(conn: Connection, workspace_id: object, slug: str) -> list[dict[str, Any]]:
    query = f"SELECT {TOOL_COLUMNS} FROM ai_agent_tools WHERE agent_id = {AGENT_ID} ORDER BY name"
    return rows_of_agent(conn, workspace_id, slug, query, {})


def get_tool(conn: Connection, workspace_id: object, slug: str, tool_id: UUID) -> dict[str, Any]:
    row = conn.execute(
        f"SELECT {TOOL_COLUMNS} FROM ai_agent_tools WHERE id = %(id)s AND agent_id = {AGENT_ID}",
        {"id": tool_id, "ws": workspace_id, "slug": slug},
    ).fetchone()
    if row is None:
        raise _not_found(tool_id, slug)
    return row


def create_tool(
    conn: Connection, actor: Actor, slug: str, spec: ToolSpec, *, allow_private: bool
) -> dict[str, Any]:
    config, refs = _vetted(conn, actor.workspace_id, spec, allow_private)
    params = {
        **spec.model_dump(include={"name", "description", "handler_kind"}),
        "config": Jsonb(config),
        "input_schema": Jsonb(spec.input_schema),
        "refs": refs,
        "ws": actor.workspace_id,
        "slug": slug,
    }
    try:
        row = conn.execute(
            "INSERT INTO ai_agent_tools (workspace_id, agent_id, name, description, handler_kind,"
            " config, input_schema, secret_refs)"
            " SELECT a.workspace_id, a.id, %(name)s, %(description)s, %(handler_kind)s,"
            f" %(config)s, %(input_schema)s, %(refs)s FROM ai_agents a WHERE a.id = {AGENT_ID}"
            f" RETURNING {TOOL_COLUMNS}",
            params,
        ).fetchone()
    except psycopg.errors.UniqueViolation:
        raise _conflict(spec.name, slug) from None
    if row is None:
        raise not_found(slug)
    record(
        conn,
        actor,
        action="tool.created",
        resource_type="tool",
        resource_id=row["id"],
        agent=agent_ref(row, slug),
        after=_state(row),
    )
    return row


def update_tool(
    conn: Connection,
    actor: Actor,
    slug: str,
    tool_id: UUID,
    changes: dict[str, Any],
    *,
    allow_private: bool,
) -> dict[str, Any]:
    """Apply changes (config merged onto the current one); the result is validated whole."""
    current = conn.execute(
        f"SELECT {TOOL_COLUMNS} FROM ai_agent_tools"
        f" WHERE id = %(id)s AND agent_id = {AGENT_ID} FOR UPDATE",
        {"id": tool_id, "ws": actor.workspace_id, "slug": slug},
    ).fetchone()
    if current is None:
        raise _not_found(tool_id, slug)
    merged = {**_state(current), **changes}
    merged["config"] = {**current["config"], **changes.get("config", {})}
    spec = validate_as(ToolSpec, merged, ("body",))
    config, refs = _vetted(conn, actor.workspace_id, spec, allow_private)
    try:
        row = conn.execute(
            "UPDATE ai_agent_tools SET name = %(name)s, description = %(description)s,"
            " handler_kind = %(handler_kind)s, config = %(config)s,"
            " input_schema = %(input_schema)s, secret_refs = %(refs)s, updated_at = now()"
            f" WHERE id = %(id)s RETURNING {TOOL_COLUMNS}",
            {
                **spec.model_dump(include={"name", "description", "handler_kind"}),
                "config": Jsonb(config),
                "input_schema": Jsonb(spec.input_schema),
                "refs": refs,
                "id": tool_id,
            },
        ).fetchone()
    except psycopg.errors.UniqueViolation:
        raise _conflict(spec.name, slug) from None
    assert row is not None
    record(
        conn,
        actor,
        action="tool.updated",
        resource_type="tool",
        resource_id=tool_id,
        agent=agent_ref(row, slug),
        before=_state(current),
        after=_state(row),
    )
    return row


def delete_tool(conn: Connection, actor: Actor, slug: str, tool_id: UUID) -> None:
    delete_owned(
        conn,
        actor,
        slug,
        tool_id,
        kind="tool",
        table="ai_agent_tools",
        columns=TOOL_COLUMNS,
        state=_state,
    )
