"""Guardrails of an agent: list, create, update, delete (one per kind); audited."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from convoship.audit.record import Actor
from convoship.core.errors import Conflict, ValidationFailed
from convoship.db.connection import Connection
from convoship.secrets.refs import reference_name
from convoship.studio.guardrail_configs import GUARDRAIL_KINDS, normalized_config
from convoship.studio.owned import Owned

_KIND_ORDER = "array_position(ARRAY['AUTH','LIMIT','REDACT','ESCALATE','BUDGET'], kind)"
GUARDRAILS = Owned(
    kind="guardrail",
    table="ai_agent_guardrails",
    columns="id, agent_id, kind, config, enabled, created_at, updated_at",
    state_fields=("kind", "config", "enabled"),
)


def _require_referenced_secret(conn: Connection, workspace_id: object, config: Any) -> None:
    """AUTH's visitor_token_secret must name an existing workspace secret (share-locked,
    so it cannot be deleted before this transaction commits)."""
    name = reference_name(config.get("visitor_token_secret"))
    if name is None:
        return
    # lazy: the secret store's imports (~18 M instructions) serve this check alone
    from convoship.secrets.store import lock_existing_names

    if not lock_existing_names(conn, workspace_id, [name]):
        raise ValidationFailed.at(
            ("body", "config", "visitor_token_secret"),
            f"secret {name} does not exist in this workspace; create it first",
        )


def list_guardrails(conn: Connection, workspace_id: object, slug: str) -> list[dict[str, Any]]:
    return GUARDRAILS.list(conn, workspace_id, slug, order=_KIND_ORDER)


def get_guardrail(
    conn: Connection, workspace_id: object, slug: str, guardrail_id: UUID
) -> dict[str, Any]:
    return GUARDRAILS.get(conn, workspace_id, slug, guardrail_id)


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
    return GUARDRAILS.create(
        conn,
        actor,
        slug,
        {"kind": kind, "config": Jsonb(stored), "enabled": enabled},
        conflict=lambda: Conflict(f"agent {slug!r} already has a {kind} guardrail", kind=kind),
    )


def update_guardrail(
    conn: Connection, actor: Actor, slug: str, guardrail_id: UUID, changes: dict[str, Any]
) -> dict[str, Any]:
    """Change enabled and/or config (merged onto the current config, validated whole)."""

    def merge(current: dict[str, Any]) -> dict[str, Any]:
        config = current["config"]
        if "config" in changes:
            config = normalized_config(current["kind"], {**config, **changes["config"]})
            if current["kind"] == "AUTH":
                _require_referenced_secret(conn, actor.workspace_id, config)
        return {"config": Jsonb(config), "enabled": changes.get("enabled", current["enabled"])}

    return GUARDRAILS.update(conn, actor, slug, guardrail_id, merge)


def delete_guardrail(conn: Connection, actor: Actor, slug: str, guardrail_id: UUID) -> None:
    GUARDRAILS.delete(conn, actor, slug, guardrail_id)
