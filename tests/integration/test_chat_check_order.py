"""An unknown conversation_id is judged where the contract puts the conversation: after the
agent lookup, RPM and AUTH (Origin, visitor token, the conversation's visitor). So a request
without the visitor token an agent requires is 401 whatever conversation it names, and
requests naming unknown conversations are counted by RPM like any other."""

from __future__ import annotations

import uuid
from typing import Any

from convoship.security.visitor_tokens import sign
from tests.support.agents import SLUG, Token, create_agent, problem_of
from tests.support.api_client import ApiClient
from tests.support.chat import chat, embed
from tests.support.clock_minute import a_fresh_minute
from tests.support.publishing import publish, set_guardrail, set_threshold

SIGNING_KEY = "visitor-signing-secret-of-the-shop-0123456789"
ORIGIN = {"origin": "https://shop.example.com"}


def test_no_visitor_token_is_401_before_an_unknown_conversation_is_404(
    api: ApiClient, token: Token, workspace: Any, fake_llm: Any
) -> None:
    admin, editor = token(workspace, "admin"), token(workspace, "editor")
    agent = create_agent(api, editor, slug=SLUG)
    secret = {"name": "VISITOR_KEY", "value": SIGNING_KEY}
    assert api.post("/v1/secrets", token=admin, json=secret).status == 201
    set_guardrail(
        api,
        editor,
        "AUTH",
        visitor_token_secret="{{secret:VISITOR_KEY}}",
        allowed_origins=["https://shop.example.com"],
    )
    assert publish(api, editor).status == 201
    public = agent["public_token"]
    unknown = uuid.uuid4()
    problem_of(embed(api, public, "hi", unknown, **ORIGIN), 401, "unauthorized")
    bad_token = {"x-visitor-token": "not.a.token", **ORIGIN}
    problem_of(embed(api, public, "hi", unknown, **bad_token), 401, "unauthorized")
    other_site = {"origin": "https://evil.example.net"}
    problem_of(embed(api, public, "hi", unknown, **other_site), 403, "origin-not-allowed")
    visitor = {"x-visitor-token": sign({"sub": "v1", "exp": 4102444800}, SIGNING_KEY), **ORIGIN}
    problem_of(embed(api, public, "hi", unknown, **visitor), 404, "not-found")
    assert fake_llm.requests == []


def test_requests_naming_unknown_conversations_are_counted_by_rpm(
    api: ApiClient, token: Token, workspace: Any, fake_llm: Any
) -> None:
    admin, editor = token(workspace, "admin"), token(workspace, "editor")
    create_agent(api, editor, slug=SLUG)
    set_threshold(api, admin, 0, rpm=2)
    a_fresh_minute()
    for _ in range(2):
        missing = chat(api, editor, "hi", uuid.uuid4())
        problem_of(missing, 404, "not-found")
        assert missing.headers["x-ratelimit-limit"] == "2"
    problem_of(chat(api, editor, "hi", uuid.uuid4()), 429, "rate-limited")
    problem_of(chat(api, editor, "hi"), 429, "rate-limited")
    assert fake_llm.requests == []
