"""The chat turn's read and write functions (migration 0010) run as their caller: row-level
security and grants bind them as they bind the statements they replaced, whichever scope the
calling transaction set, and their search_path is pinned."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.support.agents import Conn
from tests.support.seed import act_as_embed, seed_graph

WRITE = (
    "SELECT write_chat_turn(%(id)s, %(ws)s, %(agent)s, 'embed', 'active', 1, true,"
    " 3::bigint, 4::bigint, %(messages)s, NULL, NULL)"
)


@pytest.fixture
def tenants(owner_sql: Conn, workspace: Any, other_workspace: Any) -> list[dict[str, Any]]:
    return [seed_graph(owner_sql, ws) for ws in (workspace, other_workspace)]


def test_the_functions_run_as_their_caller_with_a_pinned_search_path(owner_sql: Conn) -> None:
    found = owner_sql.execute(
        "SELECT proname, prosecdef, proconfig FROM pg_proc"
        " WHERE proname IN ('chat_turn_published', 'write_chat_turn') ORDER BY proname"
    ).fetchall()
    assert [row["proname"] for row in found] == ["chat_turn_published", "write_chat_turn"]
    for row in found:
        assert row["prosecdef"] is False
        assert row["proconfig"] == [
            "search_path=pg_catalog, public, pg_temp",  # migration 0011
            "plan_cache_mode=force_generic_plan",
        ]


def test_an_embed_reads_only_the_agent_of_its_own_token(
    app_sql: Conn, tenants: list[dict[str, Any]]
) -> None:
    a, b = tenants
    with app_sql.transaction():
        act_as_embed(app_sql, a["public_token"])
        own = app_sql.execute("SELECT * FROM chat_turn_published(%s)", (a["public_token"],))
        mine = own.fetchall()
        other = app_sql.execute("SELECT * FROM chat_turn_published(%s)", (b["public_token"],))
        theirs = other.fetchall()
    assert theirs == []  # the other workspace's token, under this token's scope: nothing
    assert len(mine) == 1
    row = mine[0]
    assert (row["agent_id"], row["workspace_id"], row["version"]) == (a["agent"], a["workspace"], 1)
    assert row["tokens_today"] == 10  # seeded usage of today
    assert row["has_ops"] and row["rpm_cap_per_agent"] == 5
    assert row["has_llm"] and row["provider"] == "openai"


def test_the_read_leaves_out_only_the_documents_of_the_version_the_caller_holds(
    app_sql: Conn, owner_sql: Conn, tenants: list[dict[str, Any]]
) -> None:
    a, b = tenants
    read = "SELECT * FROM chat_turn_published(%s, %s, %s)"

    def rows(*args: Any) -> list[dict[str, Any]]:
        with app_sql.transaction():
            act_as_embed(app_sql, a["public_token"])
            found: list[dict[str, Any]] = app_sql.execute(read, args).fetchall()
        return found

    def documents(row: dict[str, Any]) -> list[Any]:
        return [row["config"], row["guardrails"], row["tools"]]

    token = a["public_token"]
    (held,) = rows(token, a["agent"], 1)
    assert held["known"] is True and documents(held) == [None, None, None]
    assert (held["agent_id"], held["version"], held["tokens_today"]) == (a["agent"], 1, 10)
    assert held["has_ops"] and held["has_llm"] and held["provider"] == "openai"
    for agent, version in [(None, None), (a["agent"], None), (None, 1), (a["agent"], 2),
                           (b["agent"], 1)]:  # fmt: skip
        (row,) = rows(token, agent, version)
        assert row["known"] is False and None not in documents(row), (agent, version)
    (alone,) = rows(token, None, None)
    with app_sql.transaction():  # the token alone (the defaults): everything, as before
        act_as_embed(app_sql, token)
        (by_token,) = app_sql.execute("SELECT * FROM chat_turn_published(%s)", (token,)).fetchall()
    assert by_token["known"] is False and documents(by_token) == documents(alone)
    owner_sql.execute(
        "INSERT INTO ai_agent_versions (workspace_id, agent_id, version, config, guardrails,"
        " tools) SELECT workspace_id, agent_id, 2, config, guardrails, tools"
        " FROM ai_agent_versions WHERE agent_id = %s AND version = 1",
        (a["agent"],),
    )
    (newer,) = rows(token, a["agent"], 1)  # published again: the new one comes whole
    assert newer["version"] == 2 and newer["known"] is False and None not in documents(newer)


def test_a_write_into_another_workspace_is_refused_and_writes_nothing(
    app_sql: Conn, owner_sql: Conn, tenants: list[dict[str, Any]]
) -> None:
    a, b = tenants
    params = {
        "id": uuid.uuid4(),
        "ws": b["workspace"],
        "agent": b["agent"],
        "messages": Jsonb([{"role": "user", "content": "hi"}]),
    }
    with pytest.raises(psycopg.errors.InsufficientPrivilege), app_sql.transaction():
        act_as_embed(app_sql, a["public_token"])
        app_sql.execute(WRITE, params)
    written = owner_sql.execute(
        "SELECT count(*) AS n FROM ai_agent_conversations WHERE id = %s", (params["id"],)
    ).fetchone()
    assert written is not None and written["n"] == 0


def test_a_write_in_scope_numbers_messages_and_adds_the_days_tokens(
    app_sql: Conn, owner_sql: Conn, tenants: list[dict[str, Any]]
) -> None:
    a = tenants[0]
    params = {
        "id": uuid.uuid4(),
        "ws": a["workspace"],
        "agent": a["agent"],
        "messages": Jsonb(
            [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
        ),
    }
    with app_sql.transaction():
        act_as_embed(app_sql, a["public_token"])
        app_sql.execute(WRITE, params)
    messages = owner_sql.execute(
        "SELECT seq, role, content FROM ai_agent_messages WHERE conversation_id = %s ORDER BY seq",
        (params["id"],),
    ).fetchall()
    assert [(m["seq"], m["role"], m["content"]) for m in messages] == [
        (1, "user", "hi"),
        (2, "assistant", "yo"),
    ]
    conv = owner_sql.execute(
        "SELECT turns, usage FROM ai_agent_conversations WHERE id = %s", (params["id"],)
    ).fetchone()
    assert conv == {"turns": 1, "usage": {"input_tokens": 3, "output_tokens": 4}}
    today = owner_sql.execute(
        "SELECT tokens FROM ai_agent_usage_daily WHERE agent_id = %s"
        " AND day = (now() AT TIME ZONE 'utc')::date",
        (a["agent"],),
    ).fetchone()
    assert today is not None and today["tokens"] == 10 + 7  # the seeded 10, and this turn's
