"""A tool call whose request HTTP cannot carry (a header value outside latin-1, a URL
outside ASCII, a host name no resolver takes) is a tool error the model reads, never a
500, and the error never quotes a secret (found while fuzzing for issue 11)."""

from __future__ import annotations

from typing import Any

import pytest

from convoship.core import constants as env
from convoship.core.settings import reset_settings
from tests.support.agents import SLUG, Token, create_agent, created, problem_of
from tests.support.api_client import ApiClient
from tests.support.chat import chat
from tests.support.publishing import BASE

SECRET = "v\u00e9\u20ac-emoji-\U0001f600"  # fine as a value, not as a header (latin-1 only)
SCHEMA = {"type": "object", "properties": {"q": {"type": "string"}}}


@pytest.fixture
def admin(
    api: ApiClient, token: Token, workspace: Any, fake_llm: Any, monkeypatch: pytest.MonkeyPatch
) -> str:
    monkeypatch.setenv(env.ALLOW_PRIVATE_NETWORK, "1")
    reset_settings()
    admin = str(token(workspace, "admin"))
    create_agent(api, admin, slug=SLUG)
    created(
        api.post(
            "/v1/secrets",
            token=admin,
            json={"name": "KEY", "value": SECRET, "allowed_hosts": ["127.0.0.1"]},
        )
    )
    return admin


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"headers": {"X-Q": "{{q}}"}}, 'call:lookup {"q": "\\ud83d\\ude00"}'),  # from the model
        ({"headers": {"X-Key": "{{secret:KEY}}"}}, 'call:lookup {"q": "1"}'),
        ({"url": "http://127.0.0.1:9/caf\u00e9/{{q}}"}, 'call:lookup {"q": "1"}'),
    ],
    ids=["argument in a header", "secret in a header", "URL outside ASCII"],
)
def test_a_request_http_cannot_carry_is_a_tool_error(
    api: ApiClient, admin: str, config: dict[str, Any], message: str
) -> None:
    tool = {
        "name": "lookup",
        "config": {"method": "POST", "url": "http://127.0.0.1:9/x", **config},
        "input_schema": SCHEMA,
    }
    created(api.post(f"{BASE}/tools", token=admin, json=tool))
    response = chat(api, admin, message)
    assert response.status == 200, response.text
    reply = response.json()["reply"]
    assert reply.endswith("the request holds a URL or header value HTTP cannot carry")
    assert "\U0001f600" not in reply and "emoji" not in reply


def test_a_host_name_no_resolver_takes_is_refused_at_save(api: ApiClient, admin: str) -> None:
    tool = {
        "name": "lookup",
        "config": {"method": "GET", "url": "https://a..b/x"},
        "input_schema": SCHEMA,
    }
    problem = problem_of(api.post(f"{BASE}/tools", token=admin, json=tool), 422, "validation")
    assert "not a valid host name" in problem["detail"]
    byok = {
        "provider": "openai_compatible",
        "model": "m",
        "base_url": "https://a..b/v1",
        "api_key": "k",
    }
    problem_of(api.patch("/v1/workspaces/agent-llm", token=admin, json=byok), 422, "validation")
