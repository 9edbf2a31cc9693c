"""Tenant isolation proven on raw SQL as the app role, with and without WHERE clauses."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from convoship.db.connection import app_role_problems
from convoship.db.scope import EMBED_ROLE_SQL
from convoship.db.transactions import rls_transaction, unscoped_transaction
from tests.support.seed import WORKSPACE_TABLES, act_as_embed, seed_graph

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
    assert app_role_problems(app_sql) == []
    row = app_sql.execute("SELECT current_user AS u").fetchone()
    assert row is not None and row["u"] == "convoship_app"
    embed = app_sql.execute(
        "SELECT rolsuper, rolbypassrls, rolcanlogin,"
        " (SELECT rolinherit FROM pg_roles WHERE rolname = 'convoship_app') AS app_inherits"
        " FROM pg_roles WHERE rolname = 'convoship_embed'"
    ).fetchone()
    assert embed == {
        "rolsuper": False,
        "rolbypassrls": False,
        "rolcanlogin": False,
        "app_inherits": False,
    }


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
    with rls_transaction(workspace_id=a["workspace"]) as conn:
        first = conn
        row = conn.execute("SELECT array_agg(DISTINCT workspace_id) AS w FROM ai_agents").fetchone()
        assert row is not None and row["w"] == [a["workspace"]]
    with unscoped_transaction() as conn:
        assert conn is first
        row = conn.execute("SELECT count(*) AS n FROM ai_agents").fetchone()
        assert row is not None and row["n"] == 0
    with rls_transaction(workspace_id=b["workspace"]) as conn:
        row = conn.execute("SELECT array_agg(DISTINCT workspace_id) AS w FROM ai_agents").fetchone()
        assert row is not None and row["w"] == [b["workspace"]]


EMBED_VISIBLE = {
    "workspace_agent_ops": 1,
    "workspace_llm_settings": 1,
    "workspace_secrets": 1,
    "workspace_data_keys": 1,
    "ai_agents": 1,
    "ai_agent_versions": 1,
    "ai_agent_conversations": 1,
    "ai_agent_messages": 1,
    "ai_agent_usage_daily": 1,
    "ai_agent_rate_counters": 1,
}  # not ai_agent_turn_reservations: only reserve/settle/release_chat_turn touch them


def _count(conn: Conn, table: str) -> int:
    row = conn.execute(f"SELECT count(*) AS n FROM {table}".encode()).fetchone()
    assert row is not None
    return int(row["n"])


def test_public_token_sees_only_what_the_embed_needs(
    app_sql: Conn, two_tenants: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    a, b = two_tenants
    with app_sql.transaction():
        act_as_embed(app_sql, a["public_token"])
        assert {t: _count(app_sql, t) for t in EMBED_VISIBLE} == EMBED_VISIBLE
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
    # ...but every other table is out of its reach, and it can change no agent and delete
    # nothing (no grant at all, not merely no matching row).
    refused = [f"SELECT count(*) FROM {t}" for t in WORKSPACE_TABLES if t not in EMBED_VISIBLE]
    refused += [
        "UPDATE ai_agents SET name = 'x'",
        "DELETE FROM ai_agent_conversations",
        "DELETE FROM ai_agent_usage_daily",
        "DELETE FROM ai_agent_messages",
    ]
    for statement in refused:
        with pytest.raises(psycopg.errors.InsufficientPrivilege), app_sql.transaction():
            act_as_embed(app_sql, a["public_token"])
            app_sql.execute(statement.encode())
    with pytest.raises(psycopg.errors.CheckViolation), app_sql.transaction():
        act_as_embed(app_sql, a["public_token"])
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
            act_as_embed(app_sql, a["public_token"])
            app_sql.execute(query.encode(), params)


def test_embed_policies_belong_to_the_embed_role_alone(
    app_sql: Conn, two_tenants: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    a, _ = two_tenants
    with app_sql.transaction():  # the app role with a token but without the role: nothing
        app_sql.execute(
            "SELECT set_config('app.ai_agent_public_token', %s, true)", (a["public_token"],)
        )
        assert {t: _count(app_sql, t) for t in EMBED_VISIBLE} == dict.fromkeys(EMBED_VISIBLE, 0)
    with app_sql.transaction():  # the embed role with a workspace scope: nothing either
        app_sql.execute("SELECT set_config('app.workspace_id', %s, true)", (str(a["workspace"]),))
        app_sql.execute(EMBED_ROLE_SQL)
        assert {t: _count(app_sql, t) for t in EMBED_VISIBLE} == dict.fromkeys(EMBED_VISIBLE, 0)
    row = app_sql.execute("SELECT current_user AS u").fetchone()
    assert row == {"u": "convoship_app"}  # SET LOCAL ROLE ended with its transaction


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


def test_no_request_role_can_create_a_temporary_table(
    app_sql: Conn, two_tenants: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    # A temporary table outlives the transaction on a pooled connection and would be read
    # ahead of the real table of the same name by the next transaction, whoever it serves.
    a, _ = two_tenants
    for become in (lambda: None, lambda: act_as_embed(app_sql, a["public_token"])):
        with pytest.raises(psycopg.errors.InsufficientPrivilege), app_sql.transaction():
            become()
            app_sql.execute("CREATE TEMP TABLE ai_agents (id uuid)")


def test_every_function_that_pins_its_search_path_searches_pg_temp_last(
    owner_sql: Conn,
) -> None:
    pinned = owner_sql.execute(
        "SELECT p.proname AS name, c AS setting FROM pg_proc p, unnest(p.proconfig) c"
        " WHERE p.pronamespace = 'public'::regnamespace AND c LIKE 'search_path=%%'"
    ).fetchall()
    assert pinned  # the chain, counter and chat functions
    assert [f for f in pinned if f["setting"] != "search_path=pg_catalog, public, pg_temp"] == []
