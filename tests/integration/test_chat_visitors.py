"""An embed conversation started with a visitor token belongs to the token's `sub`: another
visitor, or none, gets 404 for it, and the model never reads another visitor's history."""

from __future__ import annotations

import json
from typing import Any

import pytest

from convoship.security.visitor_tokens import sign
from tests.support.agents import SLUG, Conn, Token, count, create_agent, problem_of
from tests.support.api_client import ApiClient
from tests.support.chat import embed
from tests.support.publishing import publish, set_guardrail

SECRET = "visitor-signing-secret-0123456789abcdef"
ORIGIN = {"origin": "https://shop.example.com"}


def visitor(sub: Any) -> dict[str, str]:
    claims = {"exp": 4102444800} if sub is None else {"sub": sub, "exp": 4102444800}
    return {"x-visitor-token": sign(claims, SECRET), **ORIGIN}


@pytest.fixture
def public_token(api: ApiClient, token: Token, workspace: Any) -> str:
    admin, editor = token(workspace, "admin"), token(workspace, "editor")
    agent = create_agent(api, editor, slug=SLUG)
    response = api.post("/v1/secrets", token=admin, json={"name": "VISITOR_KEY", "value": SECRET})
    assert response.status == 201, response.text
    set_guardrail(api, editor, "AUTH", visitor_token_secret="{{secret:VISITOR_KEY}}")
    assert publish(api, editor).status == 201
    return str(agent["public_token"])


def seen_by_model(fake_llm: Any) -> str:
    return json.dumps(fake_llm.requests[-1].body["messages"])


def test_another_visitor_gets_404_and_the_model_never_reads_the_history(
    api: ApiClient, public_token: str, fake_llm: Any, owner_sql: Conn
) -> None:
    first = embed(api, public_token, "my order is 4471", **visitor("v1"))
    assert first.status == 200, first.text
    conv = first.json()["conversation_id"]
    calls = len(fake_llm.requests)
    problem_of(embed(api, public_token, "what did I say?", conv, **visitor("v2")), 404, "not-found")
    problem_of(embed(api, public_token, "what did I say?", conv, **ORIGIN), 401, "unauthorized")
    assert len(fake_llm.requests) == calls  # nothing reached the model
    fresh = embed(api, public_token, "hello", **visitor("v2"))
    assert fresh.status == 200 and fresh.json()["conversation_id"] != conv
    assert "4471" not in seen_by_model(fake_llm)
    again = embed(api, public_token, "what did I say?", conv, **visitor("v1"))
    assert again.status == 200, again.text
    assert "4471" in seen_by_model(fake_llm)  # its owner continues it
    owner = owner_sql.execute(
        "SELECT visitor_sub, turns FROM ai_agent_conversations WHERE id = %s", (conv,)
    ).fetchone()
    assert owner == {"visitor_sub": "v1", "turns": 2}


def test_without_visitor_tokens_a_visitors_conversation_is_404(
    api: ApiClient, public_token: str, fake_llm: Any, token: Token, workspace: Any
) -> None:
    conv = embed(api, public_token, "hi", **visitor("v1")).json()["conversation_id"]
    editor = token(workspace, "editor")
    set_guardrail(api, editor, "AUTH", visitor_token_secret=None)
    assert publish(api, editor).status == 201
    # Tokens are no longer verified, so no request can prove it is v1: nobody continues it.
    problem_of(embed(api, public_token, "hi", conv, **ORIGIN), 404, "not-found")
    problem_of(embed(api, public_token, "hi", conv, **visitor("v1")), 404, "not-found")
    anonymous = embed(api, public_token, "hi", **ORIGIN).json()["conversation_id"]
    assert embed(api, public_token, "again", anonymous, **ORIGIN).status == 200


def test_a_token_must_name_its_visitor(
    api: ApiClient, public_token: str, fake_llm: Any, owner_sql: Conn, workspace: Any
) -> None:
    for sub in (None, "", 42, "x" * 257, "\ud800", "a\x00b"):  # text PostgreSQL can hold
        problem_of(embed(api, public_token, "hi", **visitor(sub)), 401, "unauthorized")
    query = "SELECT count(*) FROM ai_agent_conversations WHERE workspace_id = %s"
    assert count(owner_sql, query, workspace) == 0


@pytest.mark.parametrize("weak", ["short-secret", "x" * 31, "é" * 15])  # é: 2 bytes each
def test_a_signing_secret_shorter_than_32_bytes_fails_closed(
    api: ApiClient,
    token: Token,
    workspace: Any,
    public_token: str,
    fake_llm: Any,
    owner_sql: Conn,
    weak: str,
) -> None:
    """Any token it signed would let its secret be guessed offline: the embed answers 503,
    a misconfiguration, and verifies nothing, even a token the weak secret did sign."""
    admin = token(workspace, "admin")
    response = api.post("/v1/secrets", token=admin, json={"name": "VISITOR_KEY", "value": weak})
    assert response.status == 200, response.text
    for signed_with in (weak, SECRET):
        claims = {"sub": "v1", "exp": 4102444800}
        headers = {"x-visitor-token": sign(claims, signed_with), **ORIGIN}
        answer = embed(api, public_token, "hi", **headers)
        problem = problem_of(answer, 503, "service-unavailable")
        assert "shorter than 32 bytes" in problem["detail"]
        assert weak not in answer.text
    query = "SELECT count(*) FROM ai_agent_conversations WHERE workspace_id = %s"
    assert count(owner_sql, query, workspace) == 0
    assert fake_llm.requests == []
