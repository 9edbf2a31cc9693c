"""What a tool or a model answers can always be stored: a NUL or a lone surrogate in a tool
response, a UTF-16 body, token counts a provider should never send. The turn completes, is
written and billed (before, the write failed after the tool and the model had run: 422
"a value in the request cannot be stored", nothing billed, the tool's side effects free to
repeat). No write of a chat turn answers 422 blaming the request; the request's own text is
refused before anything runs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from convoship.core import constants as env
from convoship.core.settings import reset_settings
from convoship.security.visitor_tokens import sign
from tests.support.agents import SLUG, Conn, Token, create_agent, created, problem_of
from tests.support.api_client import ApiClient
from tests.support.chat import chat, embed, transcript
from tests.support.http_servers import RecordingServer, Seen
from tests.support.publishing import BASE, publish, set_guardrail

BODIES = {
    "NUL": b"before\x00after",
    "UTF-16": "h\u00e9llo w\u00f6rld \U0001f600".encode("utf-16"),
    "encoded surrogate": b"a\xed\xa0\x80b",  # UTF-8's spelling of U+D800: not UTF-8
    "escaped surrogate and NUL": json.dumps({"x": "\ud800", "y": "\x00"}).encode(),
}


def _answer(seen: Seen) -> tuple[int, bytes]:
    return 200, BODIES[seen["path"].rsplit("/", 1)[1].replace("%20", " ")]


@pytest.fixture
def tool_server() -> Iterator[RecordingServer]:
    server = RecordingServer(_answer)
    yield server
    server.stop()


@pytest.fixture
def editor(
    api: ApiClient,
    token: Token,
    workspace: Any,
    fake_llm: Any,
    tool_server: RecordingServer,
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    monkeypatch.setenv(env.ALLOW_PRIVATE_NETWORK, "1")
    reset_settings()
    editor = str(token(workspace, "editor"))
    create_agent(api, editor, slug=SLUG)
    tool = {
        "name": "fetch",
        "config": {"method": "GET", "url": tool_server.url + "/body/{{kind}}"},
        "input_schema": {"type": "object", "properties": {"kind": {"type": "string"}}},
    }
    created(api.post(f"{BASE}/tools", token=editor, json=tool))
    return editor


def _billed(owner_sql: Conn, workspace: Any) -> int:
    row = owner_sql.execute(
        "SELECT COALESCE(sum(tokens), 0) AS n FROM ai_agent_usage_daily WHERE workspace_id = %s",
        (workspace,),
    ).fetchone()
    assert row is not None
    return int(row["n"])


@pytest.mark.parametrize("kind", BODIES)
def test_a_tool_response_holding_what_text_cannot_store_is_stored_replaced(
    api: ApiClient,
    editor: str,
    owner_sql: Conn,
    workspace: Any,
    tool_server: RecordingServer,
    kind: str,
) -> None:
    response = chat(api, editor, "call:fetch " + json.dumps({"kind": kind}))
    assert response.status == 200, response.text
    assert len(tool_server.received) == 1
    rows = transcript(owner_sql, response.json()["conversation_id"])
    assert [r["role"] for r in rows] == ["user", "tool", "assistant"]
    stored = rows[1]["content"]
    assert stored.startswith("HTTP 200\n") and "\x00" not in stored
    stored.encode("utf-8")  # no lone surrogate either
    if kind == "NUL":
        assert stored == "HTTP 200\nbefore\ufffdafter"
    assert _billed(owner_sql, workspace) == sum(response.json()["usage"].values()) > 0


def test_a_nul_in_the_visitors_message_is_refused_before_anything_runs(
    api: ApiClient, editor: str, owner_sql: Conn, workspace: Any, fake_llm: Any
) -> None:
    problem = problem_of(chat(api, editor, "hi\x00there"), 422, "validation")
    assert problem["errors"][0]["loc"] == ["body", "message"]
    assert fake_llm.requests == [] and _billed(owner_sql, workspace) == 0


def _completion(prompt_tokens: Any, completion_tokens: Any) -> bytes:
    return json.dumps(
        {
            "choices": [{"message": {"role": "assistant", "content": "ok"}}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens},
        }
    ).encode()


@pytest.mark.parametrize(
    ("sent", "billed"),
    [((-500, -7), 0), ((10**30, 5), 2**31 - 1 + 5), ((12, 10**20), 12 + 2**31 - 1)],
    ids=["negative", "past-bigint-input", "past-bigint-output"],
)
def test_token_counts_a_provider_should_never_send_do_not_fail_the_write(
    api: ApiClient,
    token: Token,
    workspace: Any,
    owner_sql: Conn,
    monkeypatch: pytest.MonkeyPatch,
    sent: tuple[Any, Any],
    billed: int,
) -> None:
    provider = RecordingServer(lambda seen: (200, _completion(*sent)))
    try:
        monkeypatch.setenv(env.ALLOW_PRIVATE_NETWORK, "1")
        reset_settings()
        admin, editor = token(workspace, "admin"), token(workspace, "editor")
        settings = {"provider": "openai_compatible", "base_url": provider.url, "model": "m"}
        assert api.patch("/v1/workspaces/agent-llm", token=admin, json=settings).status == 200
        create_agent(api, editor, slug=SLUG)
        response = chat(api, editor, "hi")
    finally:
        provider.stop()
    assert response.status == 200, response.text
    assert sum(response.json()["usage"].values()) == billed == _billed(owner_sql, workspace)


@pytest.mark.parametrize("sub", ["v\x00one", "v\ud800one"], ids=["NUL", "surrogate"])
def test_a_visitor_token_naming_an_unstorable_visitor_is_refused(
    api: ApiClient, token: Token, workspace: Any, fake_llm: Any, owner_sql: Conn, sub: str
) -> None:
    admin, editor = token(workspace, "admin"), token(workspace, "editor")
    agent = create_agent(api, editor, slug=SLUG)
    secret = {"name": "SIGNING", "value": "visitor-signing-secret-0123456789abcdef"}
    assert api.post("/v1/secrets", token=admin, json=secret).status == 201
    set_guardrail(api, editor, "AUTH", visitor_token_secret="{{secret:SIGNING}}")
    assert publish(api, editor).status == 201
    visitor = sign({"sub": sub, "exp": 4102444800}, "visitor-signing-secret-0123456789abcdef")
    response = embed(api, agent["public_token"], "hi", **{"x-visitor-token": visitor})
    problem_of(response, 401, "unauthorized")
    assert fake_llm.requests == [] and _billed(owner_sql, workspace) == 0


@pytest.mark.parametrize(
    "refused",
    [
        "SELECT 'not a number'::int",
        "SELECT 1 / 0",
        "INSERT INTO ai_agent_usage_daily"
        " (workspace_id, agent_id, day, tokens) SELECT workspace_id, id, current_date, -1"
        " FROM ai_agents",
    ],
    ids=["DataError", "division", "CheckViolation"],
)
def test_a_write_of_the_turn_the_database_refuses_never_blames_the_request(
    api: ApiClient,
    editor: str,
    owner_sql: Conn,
    workspace: Any,
    monkeypatch: pytest.MonkeyPatch,
    refused: str,
) -> None:
    """Should a value the turn writes still be refused (a bug), the answer is an internal
    error, not a 422 telling the caller to fix the request; nothing is written or held, and
    what the model spent is charged (chat/spent.py)."""
    from convoship.chat import turn

    def failing_write(conn: Any, *args: Any) -> None:
        conn.execute(refused)

    monkeypatch.setattr(turn, "persist_turn", failing_write)
    problem_of(chat(api, editor, "hello"), 500, "internal")
    held = owner_sql.execute(
        "SELECT (SELECT count(*) FROM ai_agent_turn_reservations WHERE workspace_id = %(w)s)"
        " + (SELECT count(*) FROM ai_agent_conversations WHERE workspace_id = %(w)s) AS n",
        {"w": workspace},
    ).fetchone()
    assert held == {"n": 0} and _billed(owner_sql, workspace) > 0
