"""Hostile tokens through the gateway: a deny or a 401 problem, never a 500 (issue 11, #1 #2)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.support.agents import SLUG, Token, create_agent, problem_of
from tests.support.api_client import ApiClient
from tests.support.publishing import publish, set_guardrail


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


HS256 = b64('{"alg":"HS256"}')
NESTED = [
    f"{b64('[' * 1500)}.{b64('{}')}.{b64('x')}",  # the header segment
    f"{HS256}.{b64('[' * 1500)}.{b64('x')}",  # the claims segment
]


@pytest.mark.parametrize("visitor_token", NESTED, ids=["header", "claims"])
def test_a_nested_visitor_token_is_401_on_the_public_embed(
    api: ApiClient, token: Token, workspace: Any, fake_llm: Any, visitor_token: str
) -> None:
    editor, admin = token(workspace, "editor"), token(workspace, "admin")
    agent = create_agent(api, editor, slug=SLUG)
    api.post(
        "/v1/secrets",
        token=admin,
        json={"name": "VISITOR_KEY", "value": "s3cret-visitor-0123456789abcdef0123456789"},
    )
    set_guardrail(api, editor, "AUTH", visitor_token_secret="{{secret:VISITOR_KEY}}")
    assert publish(api, editor).status == 201
    response = api.post(
        f"/v1/embed/{agent['public_token']}/chat",
        json={"message": "hi"},
        headers={"x-visitor-token": visitor_token},
    )
    problem_of(response, 401, "unauthorized")


def test_a_nested_bearer_token_is_denied_by_the_authorizer(api: ApiClient, workspace: Any) -> None:
    response = api.get("/v1/ai-agents", raw_auth=f"Bearer {b64('[' * 5000)}.e30.AAAA")
    # API Gateway's own answer to a deny (an authorizer that raised would be a 500).
    assert response.status == 403, response.text
    assert response.json() == {"message": "Forbidden"}
