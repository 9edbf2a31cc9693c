"""A stored BYOK key goes only to the host it was entered for: changing the provider or the
host of base_url without sending a new api_key is 422, and nothing changes."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from tests.support.agents import problem_of, workspace_rows
from tests.support.api_client import ApiClient

Token = Callable[..., str]
Conn = psycopg.Connection[dict[str, Any]]
LLM = "/v1/workspaces/agent-llm"
KEY = "sk-byok-entered-for-llm-example-1234"
START = {
    "provider": "openai_compatible",
    "base_url": "https://llm.example.com/v1",
    "model": "m",
    "api_key": KEY,
}


@pytest.fixture
def admin(api: ApiClient, workspace: uuid.UUID, token: Token) -> str:
    admin: str = token(workspace, "admin")
    assert api.patch(LLM, token=admin, json=START).status == 200
    return admin


@pytest.mark.parametrize(
    "change",
    [
        {"base_url": "https://attacker.example.net/v1"},  # another host
        {"base_url": "https://LLM.example.com.attacker.example.net/v1"},
        {"base_url": "https://llm.example.com:8443/v1"},  # another port: another service
        {"base_url": None, "provider": "openai"},  # the provider's own endpoint
        {"provider": "anthropic"},
        {"provider": "openai"},
        {"provider": None},
    ],
)
def test_moving_the_key_without_resending_it_is_422(
    api: ApiClient, workspace: uuid.UUID, admin: str, owner_sql: Conn, change: dict[str, Any]
) -> None:
    before = workspace_rows(owner_sql, "workspace_llm_settings", workspace)
    audits = workspace_rows(owner_sql, "audit_log", workspace)
    problem = problem_of(api.patch(LLM, token=admin, json=change), 422, "validation")
    assert ["body", "api_key"] in [e["loc"] for e in problem["errors"]]
    assert "api_key" in problem["detail"]
    assert workspace_rows(owner_sql, "workspace_llm_settings", workspace) == before
    assert workspace_rows(owner_sql, "audit_log", workspace) == audits


@pytest.mark.parametrize(
    "change",
    [
        {"base_url": "https://llm.example.com/v2"},  # same host, another path
        {"base_url": "https://LLM.Example.COM:443/v1"},  # same host, spelled differently
        {"model": "bigger"},
        {"base_url": "https://attacker.example.net/v1", "api_key": "sk-new-key-for-new-host"},
        {"provider": "anthropic", "api_key": "sk-ant-new-key-000000"},
        {"provider": "openai", "base_url": None, "api_key": None},  # clears the key
    ],
)
def test_same_host_or_a_new_key_is_fine(api: ApiClient, admin: str, change: dict[str, Any]) -> None:
    response = api.patch(LLM, token=admin, json=change)
    assert response.status == 200, response.text


def test_no_stored_key_means_nothing_to_protect(
    api: ApiClient, workspace: uuid.UUID, token: Token
) -> None:
    admin = token(workspace, "admin")
    keyless = {**START, "api_key": None}
    assert api.patch(LLM, token=admin, json=keyless).status == 200
    moved = api.patch(LLM, token=admin, json={"base_url": "https://other.example.org/v1"})
    assert moved.status == 200, moved.text
