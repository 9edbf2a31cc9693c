"""As convoship_embed, on raw SQL: a conversation's usage and turns only grow, its status can
only become `escalated`, its visitor never changes; daily usage, reservations and rate
counters cannot be turned back either. (A bug in the public path must not reset a budget.)"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.support.agents import Conn
from tests.support.seed import act_as_embed, seed_graph


@pytest.fixture
def tenant(owner_sql: Conn, workspace: Any) -> dict[str, Any]:
    ids = seed_graph(owner_sql, workspace)
    row = owner_sql.execute(
        "INSERT INTO ai_agent_conversations (workspace_id, agent_id, channel, turns,"
        " visitor_sub, usage) VALUES (%s, %s, 'embed', 3, 'v1',"
        ' \'{"input_tokens": 500, "output_tokens": 200}\') RETURNING id',
        (workspace, ids["agent"]),
    ).fetchone()
    assert row is not None
    return {**ids, "conversation": row["id"]}


def as_embed(app_sql: Conn, tenant: dict[str, Any], query: str, *params: Any) -> list[Any]:
    with app_sql.transaction():
        act_as_embed(app_sql, tenant["public_token"])
        cursor = app_sql.execute(query.encode(), params)
        return cursor.fetchall() if cursor.description else []


@pytest.mark.parametrize(
    "change",
    [
        "turns = 0",
        "turns = turns - 1",
        'usage = \'{"input_tokens": 0, "output_tokens": 0}\'',
        "usage = '{}'",
        "usage = jsonb_set(usage, '{output_tokens}', '199')",
        "visitor_sub = 'v2'",
        "visitor_sub = NULL",
        "status = 'closed'",
        "version = 99, turns = turns + 1",
        "created_at = now() - interval '1 day'",
    ],
)
def test_the_embed_cannot_turn_a_conversation_back(
    app_sql: Conn, owner_sql: Conn, tenant: dict[str, Any], change: str
) -> None:
    before = owner_sql.execute(
        "SELECT to_jsonb(c) AS row FROM ai_agent_conversations c WHERE id = %s",
        (tenant["conversation"],),
    ).fetchone()
    with pytest.raises(psycopg.errors.CheckViolation):
        as_embed(
            app_sql,
            tenant,
            f"UPDATE ai_agent_conversations SET {change} WHERE id = %s",
            tenant["conversation"],
        )
    after = owner_sql.execute(
        "SELECT to_jsonb(c) AS row FROM ai_agent_conversations c WHERE id = %s",
        (tenant["conversation"],),
    ).fetchone()
    assert after == before


def test_the_embed_may_add_to_a_conversation_and_escalate_it(
    app_sql: Conn, owner_sql: Conn, tenant: dict[str, Any]
) -> None:
    rows = as_embed(
        app_sql,
        tenant,
        "UPDATE ai_agent_conversations SET turns = turns + 1, status = 'escalated',"
        ' usage = \'{"input_tokens": 510, "output_tokens": 205}\' WHERE id = %s RETURNING turns',
        tenant["conversation"],
    )
    assert rows == [{"turns": 4}]
    with pytest.raises(psycopg.errors.CheckViolation):  # and escalated stays escalated
        as_embed(
            app_sql,
            tenant,
            "UPDATE ai_agent_conversations SET status = 'active' WHERE id = %s",
            tenant["conversation"],
        )


@pytest.mark.parametrize(
    "statement",
    [
        # a fresh conversation cannot start below zero, nor today's usage
        "INSERT INTO ai_agent_conversations (workspace_id, agent_id, channel, turns)"
        " VALUES (%(ws)s, %(agent)s, 'embed', -5)",
        "INSERT INTO ai_agent_conversations (workspace_id, agent_id, channel, usage)"
        " VALUES (%(ws)s, %(agent)s, 'embed', '{\"input_tokens\": -9000}')",
        "INSERT INTO ai_agent_usage_daily (workspace_id, agent_id, day, tokens)"
        " VALUES (%(ws)s, %(agent)s, current_date + 1, -1000000)",
        "UPDATE ai_agent_usage_daily SET tokens = tokens - 1",
        "UPDATE ai_agent_rate_counters SET counted = 0",
        "UPDATE ai_agent_rate_counters SET window_start = window_start - 1",
    ],
)
def test_the_embed_cannot_lower_any_counter(
    app_sql: Conn, tenant: dict[str, Any], statement: str
) -> None:
    with pytest.raises(psycopg.errors.CheckViolation), app_sql.transaction():
        act_as_embed(app_sql, tenant["public_token"])
        app_sql.execute(statement.encode(), {"ws": tenant["workspace"], "agent": tenant["agent"]})


def test_the_embed_counts_the_agents_whole_day_in_flight(
    app_sql: Conn, owner_sql: Conn, tenant: dict[str, Any]
) -> None:
    """The daily budget is the agent's: a public turn counts the playground's reservations
    too, though it can neither read nor write the table itself (test_counters_whoever_runs_it)."""
    owner_sql.execute(
        "INSERT INTO ai_agent_turn_reservations (id, workspace_id, agent_id, conversation_id,"
        " channel, day, tokens, expires_at) VALUES (gen_random_uuid(), %s, %s, %s, 'playground',"
        " (now() AT TIME ZONE 'utc')::date, 50, now() + interval '1 minute')",
        (tenant["workspace"], tenant["agent"], tenant["playground_conversation"]),
    )

    def reserve(tokens: int) -> Any:
        rows = as_embed(  # 10 used today (seeded) + 50 + 100 in flight = 160 held
            app_sql,
            tenant,
            "SELECT reserve_chat_turn(gen_random_uuid(), %s, %s, 'embed', gen_random_uuid(),"
            " false, NULL, %s, NULL, NULL, 180, 60) AS verdict",
            tenant["workspace"],
            tenant["agent"],
            tokens,
        )
        return rows[0]["verdict"]

    assert reserve(21) == "day-tokens"
    assert reserve(20) == "reserved"


def test_reserving_checks_the_visitor_too(app_sql: Conn, tenant: dict[str, Any]) -> None:
    def reserve(visitor: str | None) -> Any:
        rows = as_embed(
            app_sql,
            tenant,
            "SELECT reserve_chat_turn(gen_random_uuid(), %s, %s, 'embed', %s, true, %s, 10,"
            " NULL, NULL, NULL, 60) AS verdict",
            tenant["workspace"],
            tenant["agent"],
            tenant["conversation"],
            visitor,
        )
        return rows[0]["verdict"]

    assert reserve("v2") == "not-found"
    assert reserve(None) == "not-found"
    assert reserve("v1") == "reserved"
