"""What the key custodian role (convoship_keys) may do, on raw SQL, and what the app role
may not do to data keys."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from convoship.db.connection import app_role_problems
from tests.support.agents import Conn
from tests.support.seed import seed_graph


@pytest.fixture
def keys_sql(database: Any) -> Iterator[Conn]:
    with psycopg.connect(database.keys_url, row_factory=dict_row) as conn:
        yield conn


@pytest.fixture
def two(owner_sql: Conn, workspace: object, other_workspace: object) -> tuple[Any, Any]:
    return seed_graph(owner_sql, workspace)["workspace"], seed_graph(owner_sql, other_workspace)[
        "workspace"
    ]


def scope(conn: Conn, ws: object) -> None:
    conn.execute("SELECT set_config('app.workspace_id', %s, true)", (str(ws),))


def refused(conn: Conn, ws: object, statement: str, params: tuple[Any, ...] = ()) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
        scope(conn, ws)
        conn.execute(statement.encode(), params)


def test_keys_role_is_unprivileged_and_sees_ids_only(keys_sql: Conn, two: Any) -> None:
    a, b = two
    assert app_role_problems(keys_sql) == []
    ids = {r["id"] for r in keys_sql.execute("SELECT id FROM workspaces")}
    assert {a, b} <= ids
    keys_sql.rollback()
    for statement in (
        "SELECT name FROM workspaces",
        "SELECT count(*) FROM ai_agents",
        "SELECT count(*) FROM ai_agent_messages",
        "SELECT count(*) FROM audit_log",
        "UPDATE workspace_secrets SET name = 'X'",
        "UPDATE workspace_llm_settings SET base_url = 'https://evil.example'",
        "DELETE FROM workspace_secrets",
    ):
        refused(keys_sql, a, statement)


def test_keys_role_works_one_workspace_at_a_time(keys_sql: Conn, owner_sql: Conn, two: Any) -> None:
    a, b = two
    with keys_sql.transaction():
        scope(keys_sql, a)
        seen = keys_sql.execute("SELECT DISTINCT workspace_id AS w FROM workspace_secrets")
        assert [r["w"] for r in seen] == [a]
        touched = keys_sql.execute(
            "UPDATE workspace_data_keys SET rewrapped_at = now() RETURNING workspace_id AS w"
        ).fetchall()
        assert [r["w"] for r in touched] == [a]
        gone = keys_sql.execute("DELETE FROM workspaces WHERE id = %s RETURNING id", (b,))
        assert gone.fetchall() == []  # only the scoped workspace may be deleted
        raise psycopg.Rollback
    refused(
        keys_sql,
        a,
        "INSERT INTO audit_log (workspace_id, actor_type, actor_id, action, resource_type)"
        " VALUES (%s, 'system', 'system', 'agent.deleted', 'agent')",
        (a,),
    )
    refused(
        keys_sql,
        a,
        "INSERT INTO audit_log (workspace_id, actor_type, actor_id, action, resource_type)"
        " VALUES (%s, 'system', 'system', 'keys.data_rotated', 'x')",
        (b,),
    )
    row = owner_sql.execute(
        "SELECT count(*) AS n FROM workspaces WHERE id = ANY(%s)", ([a, b],)
    ).fetchone()
    assert row == {"n": 2}


def test_app_role_reads_keys_and_makes_only_the_first(
    app_sql: Conn, owner_sql: Conn, two: Any, make_workspace: Any
) -> None:
    a, _ = two
    refused(app_sql, a, "UPDATE workspace_data_keys SET wrapped_key = 'x'")
    refused(app_sql, a, "DELETE FROM workspace_data_keys")
    refused(
        app_sql,
        a,
        "INSERT INTO workspace_data_keys (workspace_id, version, wrapped_key, master_key_id)"
        " VALUES (%s, 2, 'w', 'fernet:1')",
        (a,),
    )
    fresh = make_workspace()
    with app_sql.transaction():
        scope(app_sql, fresh)
        app_sql.execute(
            "INSERT INTO workspace_data_keys (workspace_id, version, wrapped_key, master_key_id)"
            " VALUES (%s, 1, 'w', 'fernet:1')",
            (fresh,),
        )
    refused(app_sql, a, "SELECT count(*) FROM data_key_rotations")
    refused(app_sql, a, "SELECT count(*) FROM system_audit_log")
