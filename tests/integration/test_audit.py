"""record dual-writes inside the caller's transaction: both rows or neither."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest

from convoship.audit.record import Actor, AgentRef, record
from convoship.db.transactions import rls_transaction
from convoship.secrets import store as secrets_store
from convoship.studio import agent_ops

Conn = psycopg.Connection[dict[str, Any]]


def counts(owner_sql: Conn, ws: uuid.UUID) -> dict[str, int]:
    out = {}
    for table in ("audit_log", "ai_agent_audit_events", "workspace_secrets", "workspace_agent_ops"):
        row = owner_sql.execute(
            f"SELECT count(*) AS n FROM {table} WHERE workspace_id = %s".encode(), (ws,)
        ).fetchone()
        assert row is not None
        out[table] = int(row["n"])
    return out


def test_agent_action_writes_both_rows(owner_sql: Conn, workspace: uuid.UUID) -> None:
    actor = Actor(workspace, "u-1", request_id="req-1")
    agent = AgentRef(uuid.uuid4(), "support-bot")
    with rls_transaction(workspace_id=workspace) as tx:
        record(
            tx,
            actor,
            action="tool.updated",
            resource_type="tool",
            resource_id="t-1",
            agent=agent,
            before={"a": 1},
            after={"a": 2},
        )
    event = owner_sql.execute(
        "SELECT * FROM ai_agent_audit_events WHERE workspace_id = %s", (workspace,)
    ).fetchone()
    log = owner_sql.execute(
        "SELECT * FROM audit_log WHERE workspace_id = %s", (workspace,)
    ).fetchone()
    assert event is not None and log is not None
    assert (event["agent_slug"], event["resource_id"], event["request_id"]) == (
        "support-bot",
        "t-1",
        "req-1",
    )
    assert (log["resource_type"], log["before_state"], log["after_state"]) == (
        "tool",
        {"a": 1},
        {"a": 2},
    )


def test_failure_after_the_write_leaves_neither_change_nor_audit(
    owner_sql: Conn, workspace: uuid.UUID
) -> None:
    actor = Actor(workspace, "u-1")
    with pytest.raises(RuntimeError), rls_transaction(workspace_id=workspace) as tx:
        agent_ops.update_agent_ops(tx, actor, {"rpm_cap_per_agent": 5})
        raise RuntimeError("the request failed after writing")
    assert counts(owner_sql, workspace) == {
        "audit_log": 0,
        "ai_agent_audit_events": 0,
        "workspace_secrets": 0,
        "workspace_agent_ops": 0,
    }


def test_failing_audit_row_undoes_the_change(owner_sql: Conn, workspace: uuid.UUID) -> None:
    bad_actor = Actor(workspace, "u-1", actor_type="robot")  # violates a CHECK
    with (
        pytest.raises(psycopg.errors.CheckViolation),
        rls_transaction(workspace_id=workspace) as tx,
    ):
        secrets_store.put_secret(tx, bad_actor, "TOKEN", "value")
    assert counts(owner_sql, workspace)["workspace_secrets"] == 0


def test_failing_agent_event_undoes_the_log_row_too(owner_sql: Conn, workspace: uuid.UUID) -> None:
    actor = Actor(workspace, "u-1")
    with (
        pytest.raises(psycopg.errors.NotNullViolation),
        rls_transaction(workspace_id=workspace) as tx,
    ):
        record(
            tx,
            actor,
            action="agent.updated",
            resource_type="agent",
            agent=AgentRef(uuid.uuid4(), None),
        )  # type: ignore[arg-type]
    assert counts(owner_sql, workspace)["audit_log"] == 0


def test_audit_rows_cannot_be_changed_by_the_app(workspace: uuid.UUID) -> None:
    actor = Actor(workspace, "u-1")
    with rls_transaction(workspace_id=workspace) as tx:
        record(tx, actor, action="x", resource_type="y")
    for statement in (
        "UPDATE audit_log SET action = 'forged'",
        "DELETE FROM audit_log",
        "DELETE FROM ai_agent_audit_events",
    ):
        with (
            pytest.raises(psycopg.errors.InsufficientPrivilege),
            rls_transaction(workspace_id=workspace) as tx,
        ):
            tx.execute(statement.encode())
