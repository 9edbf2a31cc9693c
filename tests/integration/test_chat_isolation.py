"""Chat across boundaries: conversations stay with their agent and channel, concurrent
turns of one conversation queue, a dropped database is a 503 that writes nothing, and the
Anthropic wire format works end to end (BYOK)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from convoship.core import constants as env
from convoship.core.settings import reset_settings
from tests.support.agents import SLUG, Conn, Token, create_agent, problem_of
from tests.support.api_client import ApiClient
from tests.support.chat import chat, embed, transcript
from tests.support.publishing import publish


def test_conversations_do_not_cross_agents_or_channels(
    api: ApiClient, token: Token, workspace: Any, other_workspace: Any, fake_llm: Any
) -> None:
    editor = token(workspace, "editor")
    first = create_agent(api, editor, slug=SLUG)
    second = create_agent(api, editor, name="Other", slug="other-bot")
    assert publish(api, editor).status == 201
    assert publish(api, editor, slug="other-bot").status == 201
    embed_conv = embed(api, first["public_token"], "hi").json()["conversation_id"]
    playground_conv = chat(api, editor, "hi").json()["conversation_id"]
    # another agent's token, the playground channel, another workspace: all 404
    problem_of(embed(api, second["public_token"], "hi", embed_conv), 404, "not-found")
    problem_of(embed(api, first["public_token"], "hi", playground_conv), 404, "not-found")
    problem_of(chat(api, editor, "hi", embed_conv), 404, "not-found")
    outsider = token(other_workspace, "owner")
    create_agent(api, outsider, slug=SLUG)
    problem_of(chat(api, outsider, "hi", playground_conv), 404, "not-found")
    assert embed(api, first["public_token"], "again", embed_conv).status == 200


def test_concurrent_turns_of_one_conversation_queue(
    api: ApiClient, token: Token, workspace: Any, fake_llm: Any, owner_sql: Conn
) -> None:
    editor = token(workspace, "editor")
    create_agent(api, editor, slug=SLUG)
    conv = chat(api, editor, "start").json()["conversation_id"]
    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(lambda i: chat(api, editor, f"m{i}", conv).status, range(12)))
    assert statuses == [200] * 12
    rows = transcript(owner_sql, conv)
    assert [r["seq"] for r in rows] == list(range(1, 27))
    turns = owner_sql.execute(
        "SELECT turns FROM ai_agent_conversations WHERE id = %s", (conv,)
    ).fetchone()
    assert turns == {"turns": 13}


def test_database_down_after_the_model_is_503_and_nothing_half_written(
    api: ApiClient, token: Token, workspace: Any, fake_llm: Any, owner_sql: Conn, monkeypatch: Any
) -> None:
    from convoship.chat import turn as chat_turns

    editor = token(workspace, "editor")
    create_agent(api, editor, slug=SLUG)
    real_persist = chat_turns.persist_turn

    def persist_then_fail(conn: Any, *args: Any) -> None:
        real_persist(conn, *args)
        conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")

    monkeypatch.setattr(chat_turns, "persist_turn", persist_then_fail)
    problem = problem_of(chat(api, editor, "hi"), 503, "service-unavailable")
    assert problem["status"] == 503
    count = owner_sql.execute(
        "SELECT (SELECT count(*) FROM ai_agent_conversations WHERE workspace_id = %s)"
        " + (SELECT count(*) FROM ai_agent_messages WHERE workspace_id = %s) AS n",
        (workspace, workspace),
    ).fetchone()
    assert count == {"n": 0}
    monkeypatch.setattr(chat_turns, "persist_turn", real_persist)
    assert chat(api, editor, "hi").status == 200  # and the next request recovers


def test_anthropic_wire_format_with_tools(
    api: ApiClient, token: Token, workspace: Any, fake_llm: Any, monkeypatch: Any
) -> None:
    monkeypatch.setenv(env.ALLOW_PRIVATE_NETWORK, "1")
    reset_settings()
    admin, editor = token(workspace, "admin"), token(workspace, "editor")
    key = "sk-ant-" + "z" * 24
    response = api.patch(
        "/v1/workspaces/agent-llm",
        token=admin,
        json={
            "provider": "anthropic",
            "base_url": fake_llm.root_url,
            "model": "claude-x",
            "api_key": key,
        },
    )
    assert response.status == 200, response.text
    create_agent(api, editor, slug=SLUG, config={"system_prompt": "Be kind"})
    tool = {
        "name": "ping",
        "config": {"method": "GET", "url": fake_llm.root_url + "/nowhere"},
        "input_schema": {"type": "object", "properties": {}},
    }
    assert api.post(f"/v1/ai-agents/{SLUG}/tools", token=editor, json=tool).status == 201
    reply = chat(api, editor, "call:ping {}")
    assert reply.status == 200, reply.text
    assert reply.json()["reply"].startswith("tool said: HTTP 501")  # GET on the fake: 501
    first, second = fake_llm.requests[-2], fake_llm.requests[-1]
    assert first.path == "/v1/messages" and first.headers["x-api-key"] == key
    assert first.body["system"] == "Be kind" and first.body["tools"][0]["name"] == "ping"
    blocks = second.body["messages"][-1]["content"]
    assert blocks[0]["type"] == "tool_result"
