"""The embed role's message policies probe the conversation a message names (migration
0017): a public turn's reads and writes of messages never read all of the agent's
conversations, whatever the planner's statistics say, and they see and write what they did."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest

from tests.support.agents import Conn
from tests.support.seed import act_as_embed, seed_graph

CONVERSATIONS = 2000  # the agent's, inserted after the statistics were taken
QUERIES = {
    # the next message number (write_chat_turn)
    "max": "SELECT COALESCE(max(x.seq), 0) FROM ai_agent_messages x"
    " WHERE x.conversation_id = %(conv)s",
    # the recent messages (reserve_published_turn, chat/conversation.py)
    "recent": "SELECT role, content FROM (SELECT seq, role, content FROM ai_agent_messages"
    " WHERE conversation_id = %(conv)s AND role IN ('user', 'assistant')"
    " ORDER BY seq DESC LIMIT 50) r ORDER BY seq",
    "insert": "INSERT INTO ai_agent_messages (workspace_id, conversation_id, seq, role, content)"
    " VALUES (%(ws)s, %(conv)s, 99, 'user', 'hi')",
}


@pytest.fixture
def agent(owner_sql: Conn, workspace: Any) -> dict[str, Any]:
    ids = seed_graph(owner_sql, workspace)
    # Statistics taken when the agent had one conversation, and that one many messages: the
    # planner then believes a hash of all the agent's conversations cheaper than a probe per
    # message (as a session's cached plan may believe long after).
    owner_sql.execute(
        "INSERT INTO ai_agent_messages (workspace_id, conversation_id, seq, role, content)"
        " SELECT %s, %s, s, 'user', 'm' FROM generate_series(2, 5001) s",
        (workspace, ids["conversation"]),
    )
    owner_sql.execute("ANALYZE ai_agent_conversations, ai_agent_messages")
    owner_sql.execute(
        "DELETE FROM ai_agent_messages WHERE conversation_id = %s AND seq > 1",
        (ids["conversation"],),
    )
    owner_sql.execute(
        "INSERT INTO ai_agent_conversations (workspace_id, agent_id, channel)"
        " SELECT %s, %s, 'embed' FROM generate_series(1, %s)",
        (workspace, ids["agent"], CONVERSATIONS),
    )
    return ids


@pytest.mark.parametrize("query", sorted(QUERIES))
def test_a_message_statement_probes_its_conversation_not_all_of_the_agents(
    app_sql: Conn, agent: dict[str, Any], query: str
) -> None:
    params = {"conv": agent["conversation"], "ws": agent["workspace"]}
    with app_sql.transaction(force_rollback=True):
        act_as_embed(app_sql, agent["public_token"])
        plan = "\n".join(
            row["QUERY PLAN"]
            for row in app_sql.execute(
                "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + QUERIES[query], params
            ).fetchall()
        )
    assert "hashed SubPlan" not in plan, plan
    assert f"rows={CONVERSATIONS}" not in plan, plan  # no scan of every conversation


def test_the_policies_show_and_take_the_messages_they_did(
    app_sql: Conn, owner_sql: Conn, workspace: Any, other_workspace: Any
) -> None:
    mine, theirs = (seed_graph(owner_sql, ws) for ws in (workspace, other_workspace))
    with app_sql.transaction(force_rollback=True):
        act_as_embed(app_sql, mine["public_token"])
        own = app_sql.execute(QUERIES["recent"], {"conv": mine["conversation"]}).fetchall()
        other = app_sql.execute(QUERIES["recent"], {"conv": theirs["conversation"]}).fetchall()
        playground = app_sql.execute(
            QUERIES["recent"], {"conv": mine["playground_conversation"]}
        ).fetchall()
        app_sql.execute(QUERIES["insert"], {"conv": mine["conversation"], "ws": workspace})
    assert own == [{"role": "user", "content": "hello"}]
    assert other == [] and playground == []
    for conv, ws in [
        (theirs["conversation"], other_workspace),  # another tenant's
        (mine["playground_conversation"], workspace),  # not the embed's
        (uuid.uuid4(), workspace),  # none
    ]:
        with pytest.raises(psycopg.errors.InsufficientPrivilege), app_sql.transaction():
            act_as_embed(app_sql, mine["public_token"])
            app_sql.execute(QUERIES["insert"], {"conv": conv, "ws": ws})
