"""Tools of an agent: HTTP calls the model may make, with `{{secret:NAME}}` references.

A tool's config holds references only, never secret values; the names it references are
kept in `secret_refs` so a referenced secret cannot be deleted (settings API answers 409).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from convoship.audit.record import Actor
from convoship.core.errors import Conflict, ValidationFailed
from convoship.core.validation import check_json_document, validate_as
from convoship.db.connection import Connection
from convoship.secrets.refs import referenced_secrets
from convoship.studio.owned import Owned
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


def _checked_secret_refs(
    conn: Connection, workspace_id: object, config: HttpToolConfig
) -> list[str]:
    """Names the config references, each an existing workspace secret that may be sent to
    the url's host, share-locked until commit so a concurrent DELETE or narrowing of
    /v1/secrets cannot slip in between."""
    # lazy: the secret store and host rules (~18 M instructions of imports) serve the tool
    # writes alone, not the agents function's other routes
    from convoship.secrets.store import lock_allowed_hosts

    check_secret_reference_syntax(config)
    names = referenced_secrets(config.templated())
    allowed = lock_allowed_hosts(conn, workspace_id, names)
    missing = sorted(set(names) - set(allowed))
    if missing:
        raise ValidationFailed(
            f"unknown secret(s): {', '.join(missing)}; create them with POST /v1/secrets first",
            [
                {"loc": ["body", "config"], "msg": f"secret {name} does not exist"}
                for name in missing
            ],
        )
    if names:
        _check_secret_hosts(config.url, allowed)
    return names


def _check_secret_hosts(url: str, allowed: dict[str, list[str]]) -> None:
    """A secret goes only to a host written out in the url and named by its allowed_hosts."""
    from convoship.secrets.hosts import HostNotAllowed, fixed_url_host, host_allowed  # lazy

    try:
        host = fixed_url_host(url)
    except HostNotAllowed as exc:
        raise ValidationFailed.at(("body", "config", "url"), str(exc)) from None
    refused = sorted(name for name, hosts in allowed.items() if not host_allowed(host, hosts))
    if refused:
        raise ValidationFailed(
            f"secret(s) {', '.join(refused)} may not be sent to {host}: an admin allows hosts"
            " with PATCH /v1/secrets/{name}",
            [
                {
                    "loc": ["body", "config", "url"],
                    "msg": f"secret {name} may not be sent to {host}"
                    f" (allowed_hosts: {', '.join(allowed[name]) or 'none'})",
                }
                for name in refused
            ],
        )


def _vetted(
    conn: Connection, workspace_id: object, spec: ToolSpec, allow_private: bool
) -> tuple[dict[str, Any], list[str]]:
    config = spec.config.model_dump()
    check_json_document(config, MAX_CONFIG_BYTES, ("body", "config"))
    check_tool_url(spec.config.url, allow_private=allow_private)
    check_placeholders(spec)
    return config, _checked_secret_refs(conn, workspace_id, spec.config)


TOOLS = Owned(
    kind="tool",
    table="ai_agent_tools",
    columns=TOOL_COLUMNS,
    state_fields=("name", "description", "handler_kind", "config", "input_schema"),
)


def _conflict(name: str, slug: str) -> Conflict:
    return Conflict(f"agent {slug!r} already has a tool named {name!r}", name=name)


def _columns(
    conn: Connection, workspace_id: object, spec: ToolSpec, allow_private: bool
) -> dict[str, Any]:
    """The stored columns of a vetted spec (audited states hold references, never values)."""
    config, refs = _vetted(conn, workspace_id, spec, allow_private)
    return {
        **spec.model_dump(include={"name", "description", "handler_kind"}),
        "config": Jsonb(config),
        "input_schema": Jsonb(spec.input_schema),
        "secret_refs": refs,
    }


def list_tools(conn: Connection, workspace_id: object, slug: str) -> list[dict[str, Any]]:
    return TOOLS.list(conn, workspace_id, slug, order="name")


def get_tool(conn: Connection, workspace_id: object, slug: str, tool_id: UUID) -> dict[str, Any]:
    return TOOLS.get(conn, workspace_id, slug, tool_id)


def create_tool(
    conn: Connection, actor: Actor, slug: str, spec: ToolSpec, *, allow_private: bool
) -> dict[str, Any]:
    values = _columns(conn, actor.workspace_id, spec, allow_private)
    return TOOLS.create(conn, actor, slug, values, conflict=lambda: _conflict(spec.name, slug))


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

    def merge(current: dict[str, Any]) -> dict[str, Any]:
        merged = {**TOOLS.state(current), **changes}
        merged["config"] = {**current["config"], **changes.get("config", {})}
        spec = validate_as(ToolSpec, merged, ("body",))
        return _columns(conn, actor.workspace_id, spec, allow_private)

    return TOOLS.update(
        conn, actor, slug, tool_id, merge, conflict=lambda v: _conflict(v["name"], slug)
    )


def delete_tool(conn: Connection, actor: Actor, slug: str, tool_id: UUID) -> None:
    TOOLS.delete(conn, actor, slug, tool_id)
