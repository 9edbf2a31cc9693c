"""Input a database cannot store or a renderer cannot render is a 4xx, never a 500."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

Token = Callable[..., str]


def deep(levels: int) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = {"d": value}
    return value


@pytest.fixture
def agent(api: Any, workspace: uuid.UUID, token: Token) -> str:
    response = api.post("/v1/ai-agents", token=token(workspace, "editor"), json={"name": "Bot"})
    assert response.status == 201, response.text
    return "bot"


CASES: list[tuple[str, str, Any]] = [
    ("POST", "/v1/ai-agents", {"name": "nul\u0000name"}),
    ("POST", "/v1/ai-agents", {"name": "ok", "description": "a\u0000b"}),
    ("PATCH", "/v1/ai-agents/bot", {"config": {"system_prompt": "x\u0000"}}),
    ("PATCH", "/v1/workspaces/agent-llm", {"model": "gpt\u0000"}),
    ("POST", "/v1/secrets", {"name": "K", "value": "v\u0000"}),
    ("POST", "/v1/ai-agent-drafts", {"data": {"k": "v\u0000"}}),
    ("POST", "/v1/ai-agent-drafts", {"data": {"k\u0000": 1}}),
    ("POST", "/v1/ai-agent-drafts", {"data": {"n": float("nan")}}),
    ("POST", "/v1/ai-agent-drafts", {"data": {"n": float("inf")}}),
    ("POST", "/v1/ai-agent-drafts", {"data": deep(900)}),
    (
        "POST",
        "/v1/ai-agents/bot/evals",
        {"name": "e", "input": "hi", "assertions": [{"type": "regex", "value": "a{4294967296}"}]},
    ),
    (
        "POST",
        "/v1/ai-agents/bot/evals",
        {"name": "e", "input": "x\u0000", "assertions": [{"type": "contains", "value": "x"}]},
    ),
    (
        "POST",
        "/v1/ai-agents/bot/tools",
        {
            "name": "t",
            "config": {
                "method": "POST",
                "url": "https://api.example.com/x",
                "body": {"n": float("nan")},
            },
        },
    ),
    ("GET", "/v1/ai-agents/%00", None),
    ("DELETE", "/v1/secrets/%00", None),
    ("GET", "/v1/audit-log?action=%00", None),
    ("PATCH", "/v1/workspaces/agent-ops", {"eval_pass_threshold": float("nan")}),
    ("PATCH", "/v1/workspaces/agent-ops", {"eval_pass_threshold": True}),
    ("PATCH", "/v1/workspaces/agent-ops", {"eval_pass_threshold": "0.5"}),
]


@pytest.mark.parametrize(("method", "path", "body"), CASES, ids=lambda c: str(c)[:40])
def test_hostile_input_is_a_4xx_problem(
    api: Any, workspace: uuid.UUID, token: Token, agent: str, method: str, path: str, body: Any
) -> None:
    response = api.request(method, path, token=token(workspace, "owner"), json=body)
    assert 400 <= response.status < 500, (response.status, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")


def test_tool_schema_with_a_remote_ref_is_refused(
    api: Any, workspace: uuid.UUID, token: Token, agent: str
) -> None:
    response = api.post(
        "/v1/ai-agents/bot/tools",
        token=token(workspace, "editor"),
        json={
            "name": "t",
            "config": {"method": "GET", "url": "https://api.example.com/x"},
            "input_schema": {
                "type": "object",
                "properties": {"a": {"$ref": "https://169.254.169.254/latest/meta-data"}},
            },
        },
    )
    assert response.status == 422
    assert "local references" in response.text


def test_a_path_parameter_holding_a_slash_is_404(
    api: Any, workspace: uuid.UUID, token: Token, agent: str
) -> None:
    # API Gateway matches {slug} on the encoded segment and hands over the decoded path.
    response = api.get("/v1/ai-agents/bot%2Ftools", token=token(workspace, "viewer"))
    assert response.status == 404
    assert response.json()["type"] == "/problems/not-found"


def test_short_byok_key_gets_no_hint(api: Any, workspace: uuid.UUID, token: Token) -> None:
    response = api.patch(
        "/v1/workspaces/agent-llm",
        token=token(workspace, "admin"),
        json={"provider": "openai", "api_key": "short-key"},
    )
    assert response.status == 200
    assert response.json()["api_key_set"] is True and response.json()["api_key_hint"] is None


def test_misspelled_secret_reference_is_refused(
    api: Any, workspace: uuid.UUID, token: Token, agent: str
) -> None:
    response = api.post(
        "/v1/ai-agents/bot/tools",
        token=token(workspace, "editor"),
        json={
            "name": "t",
            "config": {
                "method": "GET",
                "url": "https://api.example.com/x",
                "headers": {"Authorization": "Bearer {{SECRET:KEY}}"},
            },
        },
    )
    assert response.status == 422, response.text
