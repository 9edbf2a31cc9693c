"""Tools during chat: templating, secrets filled at call time and scrubbed from everything
that comes back, the SSRF guard at call time, the tool-call limit; BYOK model settings."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest

from convoship.core import constants as env
from convoship.core.settings import reset_settings
from tests.support.agents import SLUG, Conn, Token, create_agent, created
from tests.support.api_client import ApiClient
from tests.support.chat import chat, embed, transcript
from tests.support.http_servers import RecordingServer, echo_server
from tests.support.publishing import BASE, publish, set_guardrail

_ = (echo_server,)  # a fixture
SECRET = "sk-live-Sup3r/Secret+value"  # '/' and '+' change when URL-encoded


@pytest.fixture
def private_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(env.ALLOW_PRIVATE_NETWORK, "1")
    reset_settings()


@pytest.fixture
def tool_agent(
    api: ApiClient,
    token: Token,
    workspace: Any,
    echo_server: RecordingServer,
    private_network: None,
    fake_llm: Any,
) -> dict[str, Any]:
    editor, admin = token(workspace, "editor"), token(workspace, "admin")
    secret = {"name": "API_KEY", "value": SECRET, "allowed_hosts": ["127.0.0.1"]}
    assert api.post("/v1/secrets", token=admin, json=secret).status == 201
    agent = create_agent(api, editor, slug=SLUG)
    tool = {
        "name": "lookup",
        "description": "Look an order up",
        "config": {
            "method": "POST",
            "url": echo_server.url + "/orders/{{order_id}}?key={{secret:API_KEY}}",
            "headers": {"Authorization": "Bearer {{secret:API_KEY}}"},
            "body": {"order": "{{order_id}}", "count": "{{count}}"},
        },
        "input_schema": {
            "type": "object",
            "properties": {"order_id": {"type": "string"}, "count": {"type": "integer"}},
            "required": ["order_id"],
        },
    }
    created(api.post(f"{BASE}/tools", token=editor, json=tool))
    return agent


def test_tool_call_fills_secrets_and_scrubs_them(
    api: ApiClient,
    token: Token,
    workspace: Any,
    tool_agent: dict[str, Any],
    echo_server: RecordingServer,
    owner_sql: Conn,
) -> None:
    from convoship.core.observability import logger

    seen_logs = io.StringIO()
    listener = logging.StreamHandler(seen_logs)
    listener.setFormatter(logger.registered_formatter)
    logger.addHandler(listener)
    try:
        editor = token(workspace, "editor")
        response = chat(api, editor, 'call:lookup {"order_id": "A 1", "count": 2}')
    finally:
        logger.removeHandler(listener)
    assert response.status == 200, response.text
    # The tool really got the secret, in the header, the URL and the templated body.
    call = echo_server.received[-1]
    assert call["headers"]["Authorization"] == f"Bearer {SECRET}"
    assert call["path"].startswith("/orders/A%201?key=sk-live-Sup3r%2FSecret%2Bvalue")
    assert json.loads(call["body"]) == {"order": "A 1", "count": 2}
    # ... and it is nowhere in what came back: reply, transcript, tool_args, logs.
    reply = response.json()["reply"]
    assert reply.startswith("tool said: HTTP 200") and "[secret]" in reply
    rows = transcript(owner_sql, response.json()["conversation_id"])
    assert [r["role"] for r in rows] == ["user", "tool", "assistant"]
    assert rows[1]["tool_name"] == "lookup"
    assert rows[1]["tool_args"] == {"order_id": "A 1", "count": 2}
    everything = response.text + json.dumps(rows, default=str) + seen_logs.getvalue()
    for spelling in (SECRET, "sk-live-Sup3r%2FSecret%2Bvalue", "Sup3r"):
        assert spelling not in everything


def test_tool_arguments_are_checked_against_the_schema(
    api: ApiClient,
    token: Token,
    workspace: Any,
    tool_agent: dict[str, Any],
    echo_server: RecordingServer,
) -> None:
    response = chat(api, token(workspace, "editor"), 'call:lookup {"count": "two"}')
    assert response.status == 200
    assert "invalid arguments" in response.json()["reply"]
    assert echo_server.received == []


def test_call_time_ssrf_guard(
    api: ApiClient,
    token: Token,
    workspace: Any,
    tool_agent: dict[str, Any],
    echo_server: RecordingServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(env.ALLOW_PRIVATE_NETWORK, "0")  # saved while allowed, called after
    reset_settings()
    response = chat(api, token(workspace, "editor"), 'call:lookup {"order_id": "1"}')
    assert response.status == 200
    assert "refused" in response.json()["reply"]
    assert echo_server.received == []


def test_tool_call_limit(
    api: ApiClient,
    token: Token,
    workspace: Any,
    tool_agent: dict[str, Any],
    echo_server: RecordingServer,
    fake_llm: Any,
) -> None:
    editor = token(workspace, "editor")
    set_guardrail(api, editor, "LIMIT", max_tool_calls_per_turn=0)
    response = chat(api, editor, 'call:lookup {"order_id": "1"}')
    assert response.status == 200
    assert "tools" not in fake_llm.requests[-1].body
    assert echo_server.received == []


def test_embed_tools_come_from_the_version(
    api: ApiClient,
    token: Token,
    workspace: Any,
    tool_agent: dict[str, Any],
    echo_server: RecordingServer,
    owner_sql: Conn,
) -> None:
    editor = token(workspace, "editor")
    assert publish(api, editor).status == 201
    api.delete(
        f"{BASE}/tools/{api.get(f'{BASE}/tools', token=editor).json()['items'][0]['id']}",
        token=editor,
    )
    response = embed(api, tool_agent["public_token"], 'call:lookup {"order_id": "9"}')
    assert response.status == 200, response.text
    assert echo_server.received[-1]["headers"]["Authorization"] == f"Bearer {SECRET}"
    assert SECRET not in response.text


def test_byok_settings_win_over_the_platform_default(
    api: ApiClient,
    token: Token,
    workspace: Any,
    fake_llm: Any,
    private_network: None,
) -> None:
    admin, editor = token(workspace, "admin"), token(workspace, "editor")
    key = "sk-byok-" + "k" * 20
    response = api.patch(
        "/v1/workspaces/agent-llm",
        token=admin,
        json={
            "provider": "openai_compatible",
            "base_url": fake_llm.base_url,
            "model": "byok-model",
            "api_key": key,
        },
    )
    assert response.status == 200, response.text
    create_agent(api, editor, slug=SLUG)
    from convoship.core.observability import logger

    seen_logs = io.StringIO()
    listener = logging.StreamHandler(seen_logs)
    listener.setFormatter(logger.registered_formatter)
    logger.addHandler(listener)
    try:
        ok = chat(api, editor, "hi")
        failed = chat(api, editor, "fail:401")  # a provider refusing the key
    finally:
        logger.removeHandler(listener)
    assert ok.status == 200 and failed.status == 502
    for text in (ok.text, failed.text, seen_logs.getvalue()):
        assert key not in text and key[-8:] not in text
    sent = fake_llm.requests[-2]
    assert sent.headers["authorization"] == f"Bearer {key}"
    assert sent.body["model"] == "byok-model"
    api.patch(BASE, token=editor, json={"config": {"model": "agent-model"}})
    assert chat(api, editor, "hi").status == 200
    assert fake_llm.requests[-1].body["model"] == "agent-model"


def test_byok_private_base_url_is_refused_at_call_time(
    api: ApiClient,
    token: Token,
    workspace: Any,
    fake_llm: Any,
    private_network: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    admin, editor = token(workspace, "admin"), token(workspace, "editor")
    api.patch(
        "/v1/workspaces/agent-llm",
        token=admin,
        json={"provider": "openai_compatible", "base_url": fake_llm.base_url, "model": "m"},
    )
    create_agent(api, editor, slug=SLUG)
    monkeypatch.setenv(env.ALLOW_PRIVATE_NETWORK, "0")
    reset_settings()
    response = chat(api, editor, "hi")
    assert response.status == 502 and "refused" in response.json()["detail"]
    assert fake_llm.requests == []
