"""Workspace agent-ops (and the RPM caps they put in effect): read with defaults, written
with audit.

No row means defaults; a GET never writes. A write locks the current row (FOR UPDATE) so the
audited before-state is exactly what the update replaced, then upserts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from convoship.audit.record import Actor, record
from convoship.db.connection import Connection
from convoship.studio.settings_row import upsert_settings_row


@dataclass(frozen=True)
class AgentOps:
    rpm_cap_per_agent: int | None
    eval_pass_threshold: float
    updated_at: datetime | None


DEFAULT_PUBLIC_RPM_CAP = 60


def public_rpm_cap(rpm_cap_per_agent: int | None) -> int:
    """Embed chat: the workspace cap when it is a positive integer, else 60."""
    return (
        rpm_cap_per_agent if rpm_cap_per_agent and rpm_cap_per_agent > 0 else DEFAULT_PUBLIC_RPM_CAP
    )


def playground_rpm_cap(rpm_cap_per_agent: int | None) -> int | None:
    """Playground: the workspace cap when positive, else unlimited (None)."""
    return rpm_cap_per_agent if rpm_cap_per_agent and rpm_cap_per_agent > 0 else None


_OPS_DEFAULT = AgentOps(rpm_cap_per_agent=None, eval_pass_threshold=0.0, updated_at=None)
AGENT_OPS_COLUMNS = "rpm_cap_per_agent, eval_pass_threshold, updated_at"


def agent_ops_of(row: dict[str, Any] | None) -> AgentOps:
    """Settings from a row selected with AGENT_OPS_COLUMNS (defaults when there is none)."""
    return AgentOps(**row) if row else _OPS_DEFAULT


def _agent_ops_row(conn: Connection, workspace_id: object, lock: bool) -> dict[str, Any] | None:
    query = f"SELECT {AGENT_OPS_COLUMNS} FROM workspace_agent_ops WHERE workspace_id = %s" + (
        " FOR UPDATE" if lock else ""
    )
    return conn.execute(query.encode(), (workspace_id,)).fetchone()


def get_agent_ops(conn: Connection, workspace_id: object) -> AgentOps:
    return agent_ops_of(_agent_ops_row(conn, workspace_id, lock=False))


def _ops_state(ops: AgentOps | dict[str, Any] | None) -> dict[str, Any] | None:
    if ops is None:
        return None
    if isinstance(ops, AgentOps):
        return {
            "rpm_cap_per_agent": ops.rpm_cap_per_agent,
            "eval_pass_threshold": ops.eval_pass_threshold,
        }
    return {k: ops[k] for k in ("rpm_cap_per_agent", "eval_pass_threshold")}


def update_agent_ops(conn: Connection, actor: Actor, changes: dict[str, Any]) -> AgentOps:
    previous = _agent_ops_row(conn, actor.workspace_id, lock=True)
    before = _ops_state(previous)
    merged = {**(before or _ops_state(_OPS_DEFAULT)), **changes}  # type: ignore[dict-item]
    row = upsert_settings_row(
        conn, "workspace_agent_ops", merged, actor.workspace_id, actor.actor_id
    )
    after = AgentOps(row["rpm_cap_per_agent"], row["eval_pass_threshold"], row["updated_at"])
    record(
        conn,
        actor,
        action="workspace.agent_ops.updated",
        resource_type="workspace_agent_ops",
        resource_id=actor.workspace_id,
        before=before,
        after=_ops_state(after),
    )
    return after
