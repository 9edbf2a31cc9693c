"""Audit trail: every admin write records who did what, before and after.

`record` writes inside the caller's transaction, so the change and its audit rows commit
together or not at all. Agent actions go to `ai_agent_audit_events` and `audit_log` (both
with the agent's id and its slug at the time); workspace actions (settings, BYOK, secrets,
purge) to `audit_log` only. A trigger links each audit_log row into the workspace's hash
chain as it is inserted (see audit/chain.py), so chaining costs no round trip. States must
never hold secret values: callers pass names, flags and hints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from convoship.db.connection import Connection


@dataclass(frozen=True)
class Actor:
    workspace_id: UUID | str
    actor_id: str
    actor_type: str = "user"  # user | system | visitor
    request_id: str | None = None


@dataclass(frozen=True)
class AgentRef:
    id: UUID | str
    slug: str


def _json(value: Any) -> Jsonb | None:
    return None if value is None else Jsonb(value)


def record(
    conn: Connection,
    actor: Actor,
    *,
    action: str,
    resource_type: str,
    resource_id: object = None,
    agent: AgentRef | None = None,
    before: Any = None,
    after: Any = None,
) -> None:
    """Queue the audit row(s) in the current transaction (they travel with the COMMIT)."""
    resource = None if resource_id is None else str(resource_id)
    params = {
        "workspace_id": actor.workspace_id,
        "actor_type": actor.actor_type,
        "actor_id": actor.actor_id,
        "action": action,
        "resource_type": resource_type,
        "resource_id": resource,
        "request_id": actor.request_id,
        "before_state": _json(before),
        "after_state": _json(after),
        "agent_id": None if agent is None else agent.id,
        "agent_slug": None if agent is None else agent.slug,
    }
    if agent is not None:
        conn.execute(_INSERT_AGENT_EVENT, params)
    conn.execute(_INSERT_LOG_ROW, params)


_COLUMNS = (
    "workspace_id, agent_id, agent_slug, actor_type, actor_id, action, resource_type,"
    " resource_id, request_id, before_state, after_state"
)
_VALUES = (
    "%(workspace_id)s, %(agent_id)s, %(agent_slug)s, %(actor_type)s, %(actor_id)s, %(action)s,"
    " %(resource_type)s, %(resource_id)s, %(request_id)s, %(before_state)s, %(after_state)s"
)
_INSERT_AGENT_EVENT = f"INSERT INTO ai_agent_audit_events ({_COLUMNS}) VALUES ({_VALUES})"
_INSERT_LOG_ROW = f"INSERT INTO audit_log ({_COLUMNS}) VALUES ({_VALUES})"
