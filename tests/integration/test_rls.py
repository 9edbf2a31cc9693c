"""Tenant isolation proven on raw SQL as the app role, with and without WHERE clauses."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from convoship import db
from tests.integration.seed import WORKSPACE_TABLES, seed_graph

Conn = psycopg.Connection[dict[str, Any]]


def scoped(conn: Conn, workspace_id: object) -> None:
    conn.execute("SELECT set_config('app.workspace_id', %s, true)", (str(workspace_id),))


def counts_by_workspace(owner_sql: Conn, table: str, ws: object) -> int:
    column = "id" if table == "workspaces" else "workspace_id"
    row = owner_sql.execute(
        f"SELECT count(*) AS n FROM {table} WHERE {column} = %s".encode(), (ws,)
    ).fetchone()
    assert row is not None
    return int(row["n"])


@pytest.fixture
def two_tenants(
    owner_sql: Conn, workspace: object, other_workspace: object
) -> tuple[dict[str, Any], dict[str, Any]]:
    return seed_graph(owner_sql, workspace), seed_graph(owner_sql, other_workspace)


def test_app_role_is_not_privileged(app_sql: Conn) -> None:
    assert db.app_role_problems(app_sql) == []
    row = app_sql.execute("SELECT current_user AS u").fetchone()
    assert row is not None and row["u"] == "convoship_app"


def test_every_workspace_table_forces_rls(owner_sql: Conn) -> None:
    rows = owner_sql.execute(
        "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class"
        " WHERE relname = ANY(%s) AND relkind = 'r'",
        (list(WORKSPACE_TABLES),),
    ).fetchall()
    assert {r["relname"] for r in rows} == set(WORKSPACE_TABLES)
    assert all(r["relrowsecurity"] and r["relforcerowsecurity"] for r in rows)


@pytest.mark.parametrize("table", WORKSPACE_TABLES)
def test_other_workspace_rows_are_invisible_without_where(
    table: str, app_sql: Conn, two_tenants: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    _, b = two_tenants
    with app_sql.transaction():
        scoped(app_sql, b["workspace"])
        column = "id" if table == "workspaces" else "workspace_id"
        seen = app_sql.execute(f"SELECT DISTINCT {column} AS w FROM {table}".encode()).fetchall()
    assert [r["w"] for r in seen] == [b["workspace"]]


@pytest.mark.parametrize("table", WORKSPACE_TABLES)
def test_update_and_delete_without_where_never_touch_another_workspace(
    table: str,
    app_sql: Conn,
    owner_sql: Conn,
    two_tenants: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    a, b = two_tenants
    before = counts_by_workspace(owner_sql, table, a["workspace"])
    column = "name" if table == "workspaces" else "workspace_id"
    key = "id" if table == "workspaces" else "workspace_id"
    for statement in (f"UPDATE {table} SET {column} = {column}", f"DELETE FROM {table}"):
        try:
            with app_sql.transaction():  # committed: B may lose its rows, A must not
                scoped(app_sql, b["workspace"])
                touched = app_sql.execute(f"{statement} RETURNING {key} AS w".encode()).fetchall()
                assert {r["w"] for r in touched} <= {b["workspace"]}
        except psycopg.errors.InsufficientPrivilege:
            pass  # append-only tables: no UPDATE/DELETE grant at all
    assert counts_by_workspace(owner_sql, table, a["workspace"]) == before


def test_insert_into_another_workspace_is_refused(
    app_sql: Conn, two_tenants: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    a, b = two_tenants
    attempts = [
        (
            "INSERT INTO workspace_secrets (workspace_id, name, value_ciphertext)"
            " VALUES (%s, 'X', 'c')",
            (a["workspace"],),
        ),
        ("INSERT INTO ai_agent_drafts (workspace_id) VALUES (%s)", (a["workspace"],)),
        (
            "INSERT INTO audit_log (workspace_id, actor_type, actor_id, action, resource_type)"
            " VALUES (%s, 'user', 'u', 'x', 'y')",
            (a["workspace"],),
        ),
        (
            "INSERT INTO ai_agent_guardrails (workspace_id, agent_id, kind, config)"
            " VALUES (%s, %s, 'LIMIT', '{}')",
            (a["workspace"], a["agent"]),
        ),
        (
            "INSERT INTO ai_agent_messages (workspace_id, conversation_id, seq, role)"
            " VALUES (%s, %s, 9, 'user')",
            (a["workspace"], a["conversation"]),
        ),
        ("INSERT INTO workspaces (name) VALUES ('mine now')", ()),
    ]
    for query, params in attempts:
        with pytest.raises(psycopg.errors.InsufficientPrivilege), app_sql.transaction():
            scoped(app_sql, b["workspace"])
            app_sql.execute(query.encode(), params)


def test_no_scope_sees_nothing(app_sql: Conn, two_tenants: Any) -> None:
    for table in WORKSPACE_TABLES:
        row = app_sql.execute(f"SELECT count(*) AS n FROM {table}".encode()).fetchone()
        assert row is not None and row["n"] == 0, table
    app_sql.rollback()


def test_scope_does_not_survive_into_the_next_transaction(
    app_sql: Conn, two_tenants: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    a, _ = two_tenants
    with app_sql.transaction():
        scoped(app_sql, a["workspace"])
        row = app_sql.execute("SELECT count(*) AS n FROM ai_agents").fetchone()
        assert row is not None and row["n"] == 1
    with app_sql.transaction():
        row = app_sql.execute(
            "SELECT current_setting('app.workspace_id', true) AS s,"
            " (SELECT count(*) FROM ai_agents) AS n"
        ).fetchone()
    assert row == {"s": "", "n": 0}


def test_rls_transaction_reuses_one_connection_without_leaking(
    two_tenants: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    a, b = two_tenants
    with db.rls_transaction(workspace_id=a["workspace"]) as conn:
        first = conn
        row = conn.execute("SELECT array_agg(DISTINCT workspace_id) AS w FROM ai_agents").fetchone()
        assert row is not None and row["w"] == [a["workspace"]]
    with db.unscoped_transaction() as conn:
        assert conn is first
        row = conn.execute("SELECT count(*) AS n FROM ai_agents").fetchone()
        assert row is not None and row["n"] == 0
    with db.rls_transaction(workspace_id=b["workspace"]) as conn:
        row = conn.execute("SELECT array_agg(DISTINCT workspace_id) AS w FROM ai_agents").fetchone()
        assert row is not None and row["w"] == [b["workspace"]]


def test_public_token_sees_only_what_the_embed_needs(
    app_sql: Conn, two_tenants: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    a, b = two_tenants
    with app_sql.transaction():
        app_sql.execute(
            "SELECT set_config('app.ai_agent_public_token', %s, true)", (a["public_token"],)
        )

        def count(table: str) -> int:
            row = app_sql.execute(f"SELECT count(*) AS n FROM {table}".encode()).fetchone()
            assert row is not None
            return int(row["n"])

        visible = {t: count(t) for t in WORKSPACE_TABLES}
        assert visible == {
            "workspaces": 0,
            "workspace_agent_ops": 1,
            "workspace_llm_settings": 1,
            "workspace_secrets": 1,
            "audit_log": 0,
            "ai_agents": 1,
            "ai_agent_versions": 1,
            "ai_agent_guardrails": 0,
            "ai_agent_tools": 0,
            "ai_agent_evals": 0,
            "ai_agent_conversations": 1,
            "ai_agent_messages": 1,
            "ai_agent_usage_daily": 1,
            "ai_agent_drafts": 0,
            "ai_agent_audit_events": 0,
        }
        # It may start a conversation with its own agent and write messages there...
        conv = app_sql.execute(
            "INSERT INTO ai_agent_conversations (workspace_id, agent_id, channel)"
            " VALUES (%s, %s, 'embed') RETURNING id",
            (a["workspace"], a["agent"]),
        ).fetchone()
        assert conv is not None
        app_sql.execute(
            "INSERT INTO ai_agent_messages (workspace_id, conversation_id, seq, role)"
            " VALUES (%s, %s, 1, 'user')",
            (a["workspace"], conv["id"]),
        )
        # ...but changing the agent is not possible: UPDATE matches no row.
        cur = app_sql.execute("UPDATE ai_agents SET name = 'x'")
        assert cur.rowcount == 0
        # ...nor deleting its conversations or usage (messages: no DELETE grant at all).
        for table in ("ai_agent_conversations", "ai_agent_usage_daily"):
            assert app_sql.execute(f"DELETE FROM {table}".encode()).rowcount == 0, table
    with pytest.raises(psycopg.errors.InsufficientPrivilege), app_sql.transaction():
        app_sql.execute("DELETE FROM ai_agent_messages")
    with pytest.raises(psycopg.errors.CheckViolation), app_sql.transaction():
        app_sql.execute(
            "SELECT set_config('app.ai_agent_public_token', %s, true)", (a["public_token"],)
        )
        app_sql.execute("UPDATE ai_agent_usage_daily SET tokens = 0")  # resetting the BUDGET
    for query, params in [
        (
            "INSERT INTO ai_agent_conversations (workspace_id, agent_id, channel)"
            " VALUES (%s, %s, 'embed')",
            (b["workspace"], b["agent"]),
        ),
        (
            "INSERT INTO ai_agent_conversations (workspace_id, agent_id, channel)"
            " VALUES (%s, %s, 'playground')",
            (a["workspace"], a["agent"]),
        ),
        (
            "INSERT INTO ai_agent_messages (workspace_id, conversation_id, seq, role)"
            " VALUES (%s, %s, 5, 'user')",
            (b["workspace"], b["conversation"]),
        ),
    ]:
        with pytest.raises(psycopg.errors.InsufficientPrivilege), app_sql.transaction():
            app_sql.execute(
                "SELECT set_config('app.ai_agent_public_token', %s, true)", (a["public_token"],)
            )
            app_sql.execute(query.encode(), params)


def test_purge_role_deletes_stale_drafts_only(
    database: Any, owner_sql: Conn, workspace: object, other_workspace: object
) -> None:
    stale = seed_graph(owner_sql, workspace, stale_draft=True)
    fresh = seed_graph(owner_sql, other_workspace)
    with psycopg.connect(database.purge_url, row_factory=dict_row_factory()) as purge:
        deleted = purge.execute("DELETE FROM ai_agent_drafts RETURNING id").fetchall()
        assert [r["id"] for r in deleted] == [stale["draft"]]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            purge.execute("SELECT count(*) FROM ai_agents")
        purge.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            purge.execute(
                "INSERT INTO audit_log (workspace_id, actor_type, actor_id, action,"
                " resource_type) VALUES (%s, 'system', 'x', 'agent.deleted', 'a')",
                (workspace,),
            )
    assert counts_by_workspace(owner_sql, "ai_agent_drafts", fresh["workspace"]) == 1


def dict_row_factory() -> Any:
    from psycopg.rows import dict_row

    return dict_row
