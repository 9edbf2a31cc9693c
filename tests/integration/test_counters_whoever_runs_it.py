"""Counters only grow whoever runs the SQL (migration 0008), proven on raw SQL in the request
roles: the app role deletes no conversation or daily usage; neither role writes a turn
reservation but through reserve/settle/release, which check the caller's scope, set the
expiry (at most 300 s) and take a reservation only by its id; the embed role cannot even
list them. Deleting an agent still removes all of it, by cascade."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest

from tests.support.agents import SLUG, Conn, Token, create_agent
from tests.support.api_client import ApiClient
from tests.support.chat import chat
from tests.support.seed import act_as_embed, seed_graph

HUNDRED_YEARS = "now() + interval '100 years'"


@pytest.fixture
def tenants(owner_sql: Conn, workspace: Any, other_workspace: Any) -> list[dict[str, Any]]:
    """Two workspaces, each with an agent, conversations, usage and a live reservation."""
    return [seed_graph(owner_sql, ws) for ws in (workspace, other_workspace)]


def run_as(app_sql: Conn, role: str, tenant: dict[str, Any], query: str, *params: Any) -> Any:
    """query in one committed transaction, as the app role (workspace scope) or the embed."""
    with app_sql.transaction():
        if role == "embed":
            act_as_embed(app_sql, tenant["public_token"])
        else:
            app_sql.execute(
                "SELECT set_config('app.workspace_id', %s, true)", (str(tenant["workspace"]),)
            )
        cursor = app_sql.execute(query.encode(), params)
        return cursor.fetchall() if cursor.description else None


def rows(owner_sql: Conn, table: str, workspace: Any) -> int:
    row = owner_sql.execute(
        f"SELECT count(*) AS n FROM {table} WHERE workspace_id = %s".encode(), (workspace,)
    ).fetchone()
    assert row is not None
    return int(row["n"])


@pytest.mark.parametrize("table", ["ai_agent_usage_daily", "ai_agent_conversations"])
def test_the_app_role_cannot_delete_usage_or_conversations(
    app_sql: Conn, owner_sql: Conn, tenants: list[dict[str, Any]], table: str
) -> None:
    a = tenants[0]
    before = rows(owner_sql, table, a["workspace"])
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        run_as(app_sql, "app", a, f"DELETE FROM {table}")
    assert rows(owner_sql, table, a["workspace"]) == before > 0


@pytest.mark.parametrize("role", ["app", "embed"])
@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO ai_agent_turn_reservations (id, workspace_id, agent_id, conversation_id,"
        " channel, day, tokens, expires_at) VALUES (gen_random_uuid(), %(ws)s, %(agent)s,"
        f" gen_random_uuid(), 'embed', current_date, 999999999, {HUNDRED_YEARS})",
        "DELETE FROM ai_agent_turn_reservations",
        f"UPDATE ai_agent_turn_reservations SET expires_at = {HUNDRED_YEARS}",
    ],
    ids=["insert", "delete", "update"],
)
def test_no_request_role_writes_a_reservation_directly(
    app_sql: Conn, owner_sql: Conn, tenants: list[dict[str, Any]], role: str, statement: str
) -> None:
    a = tenants[0]
    with pytest.raises(psycopg.errors.InsufficientPrivilege), app_sql.transaction():
        if role == "embed":
            act_as_embed(app_sql, a["public_token"])
        else:
            app_sql.execute(
                "SELECT set_config('app.workspace_id', %s, true)", (str(a["workspace"]),)
            )
        app_sql.execute(statement.encode(), {"ws": a["workspace"], "agent": a["agent"]})
    assert rows(owner_sql, "ai_agent_turn_reservations", a["workspace"]) == 1


def test_the_embed_cannot_list_reservations_in_flight(
    app_sql: Conn, tenants: list[dict[str, Any]]
) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        run_as(app_sql, "embed", tenants[0], "SELECT id FROM ai_agent_turn_reservations")


def _reserve(
    app_sql: Conn, role: str, caller: dict[str, Any], agent: dict[str, Any], **overrides: Any
) -> Any:
    params = {"channel": "embed", "ttl": 120, "tokens": 10, **overrides}
    found = run_as(
        app_sql,
        role,
        caller,
        "SELECT reserve_chat_turn(gen_random_uuid(), %s, %s, %s, gen_random_uuid(), false,"
        " NULL, %s, NULL, NULL, NULL, %s) AS verdict",
        agent["workspace"],
        agent["agent"],
        params["channel"],
        params["tokens"],
        params["ttl"],
    )
    return found[0]["verdict"]


def test_a_reservation_is_held_for_at_most_300_seconds(
    app_sql: Conn, owner_sql: Conn, tenants: list[dict[str, Any]]
) -> None:
    a = tenants[0]
    for ttl in (2_000_000_000, 301, 0, -5):  # 2e9 s: 63 years
        with pytest.raises(psycopg.errors.CheckViolation):
            _reserve(app_sql, "embed", a, a, ttl=ttl, tokens=999999999)
    assert _reserve(app_sql, "embed", a, a, ttl=300) == "reserved"
    held = owner_sql.execute(
        "SELECT expires_at <= now() + interval '300 seconds' AS bounded, tokens"
        " FROM ai_agent_turn_reservations WHERE workspace_id = %s AND tokens <> 100",
        (a["workspace"],),
    ).fetchall()
    assert held == [{"bounded": True, "tokens": 10}]  # 100: the seeded one


def test_a_reservation_is_taken_only_in_the_callers_scope(
    app_sql: Conn, owner_sql: Conn, tenants: list[dict[str, Any]]
) -> None:
    a, b = tenants
    assert _reserve(app_sql, "embed", a, a, channel="playground") == "no-agent"
    assert _reserve(app_sql, "embed", a, b) == "no-agent"  # another agent
    assert _reserve(app_sql, "app", a, b, channel="playground") == "no-agent"  # other workspace
    assert _reserve(app_sql, "app", a, a, channel="playground") == "reserved"
    assert _reserve(app_sql, "embed", a, a) == "reserved"
    assert rows(owner_sql, "ai_agent_turn_reservations", b["workspace"]) == 1  # untouched


def test_release_and_settle_take_only_what_the_scope_holds(
    app_sql: Conn, owner_sql: Conn, tenants: list[dict[str, Any]]
) -> None:
    a, b = tenants
    ids = {}
    for name, tenant, channel in (("a-embed", a, "embed"), ("a-play", a, "playground")):
        ids[name] = uuid.uuid4()
        owner_sql.execute(
            "INSERT INTO ai_agent_turn_reservations (id, workspace_id, agent_id,"
            " conversation_id, channel, day, tokens, expires_at) VALUES (%s, %s, %s,"
            " gen_random_uuid(), %s, current_date, 5, now() + interval '1 minute')",
            (ids[name], tenant["workspace"], tenant["agent"], channel),
        )
    b_id = owner_sql.execute(
        "SELECT id FROM ai_agent_turn_reservations WHERE workspace_id = %s", (b["workspace"],)
    ).fetchone()
    assert b_id is not None
    for taken in (b_id["id"], ids["a-play"]):  # another agent's; its own agent's playground
        run_as(app_sql, "embed", a, "SELECT release_chat_turn(%s)", taken)
        with pytest.raises(psycopg.errors.SerializationFailure):
            run_as(app_sql, "embed", a, "SELECT settle_chat_turn(%s)", taken)
    run_as(app_sql, "app", b, "SELECT release_chat_turn(%s)", ids["a-embed"])  # other workspace
    left = owner_sql.execute("SELECT id FROM ai_agent_turn_reservations").fetchall()
    assert {b_id["id"], ids["a-play"], ids["a-embed"]} <= {r["id"] for r in left}
    run_as(app_sql, "embed", a, "SELECT release_chat_turn(%s)", ids["a-embed"])
    run_as(app_sql, "app", a, "SELECT settle_chat_turn(%s)", ids["a-play"])
    left = owner_sql.execute("SELECT id FROM ai_agent_turn_reservations").fetchall()
    assert not {ids["a-play"], ids["a-embed"]} & {r["id"] for r in left}


def test_deleting_an_agent_still_removes_everything_it_owns(
    api: ApiClient, token: Token, workspace: Any, owner_sql: Conn, fake_llm: Any
) -> None:
    editor = token(workspace, "editor")
    agent = create_agent(api, editor, slug=SLUG)
    conversation = chat(api, editor, "hello").json()["conversation_id"]
    owner_sql.execute(  # a turn in flight
        "INSERT INTO ai_agent_turn_reservations (id, workspace_id, agent_id, conversation_id,"
        " channel, day, tokens, expires_at) VALUES (gen_random_uuid(), %s, %s, %s,"
        " 'playground', current_date, 5, now() + interval '1 minute')",
        (workspace, agent["id"], conversation),
    )
    tables = [
        "ai_agent_conversations",
        "ai_agent_messages",
        "ai_agent_usage_daily",
        "ai_agent_turn_reservations",
    ]
    assert all(rows(owner_sql, t, workspace) > 0 for t in tables)
    assert api.delete(f"/v1/ai-agents/{SLUG}", token=editor).status == 204
    assert [rows(owner_sql, t, workspace) for t in tables] == [0, 0, 0, 0]


def test_an_agent_deleted_before_its_turn_reserves_is_404(
    api: ApiClient,
    token: Token,
    workspace: Any,
    owner_sql: Conn,
    fake_llm: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from convoship.chat import turn

    editor = token(workspace, "editor")
    agent = create_agent(api, editor, slug=SLUG)
    real_check = turn.checks.check_budget

    def deleted_meanwhile(*args: Any) -> None:
        owner_sql.execute("DELETE FROM ai_agents WHERE id = %s", (agent["id"],))
        real_check(*args)

    monkeypatch.setattr(turn.checks, "check_budget", deleted_meanwhile)
    response = chat(api, editor, "hello")
    assert response.status == 404, response.text
    assert fake_llm.requests == []
