"""Chat through the gateway emulation: playground and embed, guardrails in the contract's
order, tools with secrets, transcripts after REDACT, the loopback test model."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from convoship.security.visitor_tokens import sign
from tests.support.agents import SLUG, Conn, Token, create_agent, problem_of
from tests.support.api_client import ApiClient
from tests.support.chat import PLAYGROUND, chat, embed, transcript
from tests.support.clock_minute import a_fresh_minute
from tests.support.publishing import BASE, publish, set_guardrail, set_threshold


@pytest.fixture
def agent(api: ApiClient, editor: str) -> dict[str, Any]:
    return create_agent(api, editor, slug=SLUG, config={"system_prompt": "You help."})


def test_playground_turns_keep_a_conversation(
    api: ApiClient, editor: str, agent: dict[str, Any], fake_llm: Any, owner_sql: Conn
) -> None:
    first = chat(api, editor, "hello")
    assert first.status == 200, first.text
    body = first.json()
    assert body["reply"] == "echo: hello" and body["escalated"] is False
    assert body["usage"]["input_tokens"] > 0 and body["usage"]["output_tokens"] > 0
    second = chat(api, editor, "and again", body["conversation_id"])
    assert second.status == 200, second.text
    assert second.json()["conversation_id"] == body["conversation_id"]
    sent = fake_llm.requests[-1].body["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[0]["content"] == "You help."
    rows = transcript(owner_sql, body["conversation_id"])
    assert [(r["seq"], r["role"]) for r in rows] == [
        (1, "user"),
        (2, "assistant"),
        (3, "user"),
        (4, "assistant"),
    ]
    conv = api.get(f"{BASE}/conversations/{body['conversation_id']}", token=editor).json()
    assert conv["channel"] == "playground" and conv["version"] is None
    assert conv["turns"] == 2
    assert len(conv["messages"]) == 4


def test_embed_runs_the_published_version_only(
    api: ApiClient, editor: str, agent: dict[str, Any], fake_llm: Any
) -> None:
    token = agent["public_token"]
    problem_of(api.get(f"/v1/embed/{token}"), 404, "not-found")
    problem_of(embed(api, token, "hi"), 404, "not-found")
    api.patch(BASE, token=editor, json={"config": {"greeting": "Hello from v1"}})
    assert publish(api, editor).status == 201
    api.patch(BASE, token=editor, json={"config": {"system_prompt": "draft only"}})
    profile = api.get(f"/v1/embed/{token}")
    assert profile.status == 200 and profile.json() == {
        "name": "Support Bot",
        "greeting": "Hello from v1",
    }
    response = embed(api, token, "hi")
    assert response.status == 200, response.text
    assert fake_llm.requests[-1].body["messages"][0]["content"] == "You help."
    assert response.headers["x-ratelimit-limit"] == "60"
    assert response.headers["x-ratelimit-remaining"] == "59"
    problem_of(api.get("/v1/embed/not-a-real-token-at-all"), 404, "not-found")


def test_rpm_cap_answers_429_with_headers(
    api: ApiClient, editor: str, agent: dict[str, Any], fake_llm: Any, token: Token, workspace: Any
) -> None:
    set_threshold(api, token(workspace, "admin"), 0, rpm=2)
    a_fresh_minute()
    assert chat(api, editor, "one").status == 200
    second = chat(api, editor, "two")
    assert second.headers["x-ratelimit-remaining"] == "0"
    third = chat(api, editor, "three")
    problem_of(third, 429, "rate-limited")
    assert int(third.headers["retry-after"]) >= 1
    assert third.headers["x-ratelimit-limit"] == "2"
    assert len(fake_llm.requests) == 2


def test_playground_without_a_cap_sends_no_rate_headers(
    api: ApiClient, editor: str, agent: dict[str, Any], fake_llm: Any
) -> None:
    response = chat(api, editor, "hi")
    assert response.status == 200
    assert "x-ratelimit-limit" not in response.headers


def test_auth_origin_and_visitor_token(
    api: ApiClient,
    editor: str,
    agent: dict[str, Any],
    fake_llm: Any,
    token: Token,
    workspace: Any,
) -> None:
    admin = token(workspace, "admin")
    api.post(
        "/v1/secrets",
        token=admin,
        json={"name": "VISITOR_KEY", "value": "s3cret-visitor-0123456789abcdef0123456789"},
    )
    set_guardrail(
        api,
        editor,
        "AUTH",
        allowed_origins=["https://shop.example.com"],
        visitor_token_secret="{{secret:VISITOR_KEY}}",
    )
    assert publish(api, editor).status == 201
    public = agent["public_token"]
    problem_of(embed(api, public, "hi"), 403, "origin-not-allowed")
    problem_of(embed(api, public, "hi", origin="https://evil.example"), 403, "origin-not-allowed")
    good_origin = {"origin": "https://SHOP.example.com:443"}
    problem_of(embed(api, public, "hi", **good_origin), 401, "unauthorized")
    wrong = sign({"sub": "v1", "exp": 4102444800}, "not-the-secret")
    problem_of(
        embed(api, public, "hi", **good_origin, **{"x-visitor-token": wrong}), 401, "unauthorized"
    )
    expired = sign({"sub": "v1", "exp": 1000}, "s3cret-visitor-0123456789abcdef0123456789")
    problem_of(
        embed(api, public, "hi", **good_origin, **{"x-visitor-token": expired}),
        401,
        "unauthorized",
    )
    valid = sign({"sub": "v1", "exp": 4102444800}, "s3cret-visitor-0123456789abcdef0123456789")
    ok = embed(api, public, "hi", **good_origin, **{"x-visitor-token": valid})
    assert ok.status == 200, ok.text
    assert "s3cret-visitor-0123456789abcdef0123456789" not in ok.text


def test_limit_budget_and_their_order(
    api: ApiClient,
    editor: str,
    agent: dict[str, Any],
    fake_llm: Any,
    owner_sql: Conn,
    workspace: Any,
) -> None:
    set_guardrail(api, editor, "LIMIT", max_input_chars=10, max_turns_per_conversation=2)
    problem = problem_of(chat(api, editor, "x" * 11), 413, "payload-too-large")
    assert problem["max_input_chars"] == 10
    first = chat(api, editor, "one").json()
    chat(api, editor, "two", first["conversation_id"])
    problem_of(chat(api, editor, "three", first["conversation_id"]), 422, "validation")
    set_guardrail(api, editor, "BUDGET", max_tokens_per_day=1)
    problem_of(chat(api, editor, "more"), 429, "budget-exceeded")
    calls = len(fake_llm.requests)
    problem_of(chat(api, editor, "x" * 11), 413, "payload-too-large")  # LIMIT before BUDGET
    assert len(fake_llm.requests) == calls


def test_conversation_budget(
    api: ApiClient, editor: str, agent: dict[str, Any], fake_llm: Any
) -> None:
    # A turn needs room for its estimate: input (about a third of its bytes) plus the
    # config's max_output_tokens.
    api.patch(BASE, token=editor, json={"config": {"max_output_tokens": 8}})
    set_guardrail(api, editor, "BUDGET", max_tokens_per_conversation=60)
    first = chat(api, editor, "a long enough message to use a good part of the budget")
    assert first.status == 200, first.text
    calls = len(fake_llm.requests)
    problem_of(chat(api, editor, "again", first.json()["conversation_id"]), 429, "budget-exceeded")
    assert len(fake_llm.requests) == calls  # refused before the model
    assert chat(api, editor, "a new conversation is fine").status == 200
    set_guardrail(api, editor, "BUDGET", max_tokens_per_conversation=10)
    problem_of(chat(api, editor, "hi"), 429, "budget-exceeded")  # one turn may spend more


def test_escalation_skips_the_model_and_sticks(
    api: ApiClient, editor: str, agent: dict[str, Any], fake_llm: Any, owner_sql: Conn
) -> None:
    response = chat(api, editor, "Can I talk to a HUMAN please?")
    body = response.json()
    assert response.status == 200 and body["escalated"] is True
    assert body["usage"] == {"input_tokens": 0, "output_tokens": 0}
    assert "member of our team" in body["reply"]
    assert fake_llm.requests == []
    again = chat(api, editor, "hello?", body["conversation_id"]).json()
    assert again["escalated"] is True and fake_llm.requests == []
    status = owner_sql.execute(
        "SELECT status FROM ai_agent_conversations WHERE id = %s", (body["conversation_id"],)
    ).fetchone()
    assert status is not None and status["status"] == "escalated"
    # A keyword inside another word does not escalate.
    assert chat(api, editor, "my agenda is full").json()["escalated"] is False


def test_transcripts_are_redacted(
    api: ApiClient, editor: str, agent: dict[str, Any], fake_llm: Any, owner_sql: Conn
) -> None:
    response = chat(api, editor, "mail me at jane.doe@example.com or call +44 20 7946 0958")
    body = response.json()
    assert "jane.doe@example.com" in body["reply"]  # the live reply is the visitor's own
    rows = transcript(owner_sql, body["conversation_id"])
    stored = json.dumps([r["content"] for r in rows])
    assert "jane.doe@example.com" not in stored and "7946" not in stored
    assert "[EMAIL]" in rows[0]["content"] and "[PHONE]" in rows[0]["content"]


def test_no_model_configured_is_503_and_writes_nothing(
    api: ApiClient, editor: str, agent: dict[str, Any], owner_sql: Conn, workspace: Any
) -> None:
    problem_of(chat(api, editor, "hi"), 503, "llm-not-configured")
    count = owner_sql.execute(
        "SELECT count(*) AS n FROM ai_agent_conversations WHERE workspace_id = %s", (workspace,)
    ).fetchone()
    assert count is not None and count["n"] == 0


def test_provider_failure_is_502_and_writes_nothing(
    api: ApiClient, editor: str, agent: dict[str, Any], fake_llm: Any, owner_sql: Conn
) -> None:
    first = chat(api, editor, "hi").json()
    problem_of(chat(api, editor, "fail:500", first["conversation_id"]), 502, "upstream-unavailable")
    problem_of(chat(api, editor, "fail:garbage"), 502, "upstream-unavailable")
    assert len(transcript(owner_sql, first["conversation_id"])) == 2


def test_unknown_conversation_is_404(
    api: ApiClient, editor: str, agent: dict[str, Any], fake_llm: Any
) -> None:
    problem_of(chat(api, editor, "hi", uuid.uuid4()), 404, "not-found")
    problem_of(api.post(PLAYGROUND, token=editor, json={"message": ""}), 422, "validation")
    problem_of(api.post(PLAYGROUND, token=editor, json={"nope": 1}), 422, "validation")
