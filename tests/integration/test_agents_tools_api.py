"""Tools through the gateway emulation: secret references (and the settings API's 409),
URL vetting, JSON Schema inputs, merged PATCH with before/after audit, validation."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from convoship.core.settings import reset_settings
from tests.support.agents import (
    SLUG,
    TOOL,
    Conn,
    Token,
    create_agent,
    created,
    error_locs,
    problem_of,
    table_counts,
)
from tests.support.api_client import ApiClient

BASE = f"/v1/ai-agents/{SLUG}/tools"
SECRET_TOOL = {
    "name": "crm_lookup",
    "description": "Look a customer up in the CRM",
    "handler_kind": "http",
    "config": {
        "method": "POST",
        "url": "https://crm.example.com/api/search",
        "headers": {"Authorization": "Bearer {{secret:API_KEY}}"},
        "body": {"query": "{{email}}"},
        "timeout_s": 5,
    },
    "input_schema": {"type": "object", "properties": {"email": {"type": "string"}}},
}


@pytest.fixture
def agent(api: ApiClient, workspace: uuid.UUID, token: Token) -> dict[str, Any]:
    return create_agent(api, token(workspace, "editor"))


def test_tool_referencing_a_secret_needs_it_and_then_pins_it(
    api: ApiClient, workspace: uuid.UUID, token: Token, owner_sql: Conn, agent: dict[str, Any]
) -> None:
    editor, admin = token(workspace, "editor"), token(workspace, "admin")
    # Given no secret API_KEY: the tool is refused, naming the secret, and nothing is written
    before = table_counts(owner_sql)
    refused = problem_of(api.post(BASE, token=editor, json=SECRET_TOOL), 422, "validation")
    assert "API_KEY" in refused["detail"]
    assert any("API_KEY" in e["msg"] for e in refused["errors"])
    assert table_counts(owner_sql) == before
    # When the secret is created, the same tool is accepted and records the reference
    secret = api.post(
        "/v1/secrets",
        token=admin,
        json={"name": "API_KEY", "value": "sk-live-9", "allowed_hosts": ["crm.example.com"]},
    )
    assert secret.status == 201, secret.text
    tool = created(api.post(BASE, token=editor, json=SECRET_TOOL))
    assert tool["secret_refs"] == ["API_KEY"]
    assert tool["config"]["headers"] == {"Authorization": "Bearer {{secret:API_KEY}}"}
    assert "sk-live-9" not in api.get(BASE, token=editor).text
    # Then the secret cannot be deleted while the tool references it
    problem_of(api.delete("/v1/secrets/API_KEY", token=admin), 409, "conflict")
    # And once the tool is gone, it can
    assert api.delete(f"{BASE}/{tool['id']}", token=editor).status == 204
    assert api.delete("/v1/secrets/API_KEY", token=admin).status == 204


def test_tool_update_audits_handler_kind_and_config_before_and_after(
    api: ApiClient, workspace: uuid.UUID, token: Token, owner_sql: Conn, agent: dict[str, Any]
) -> None:
    editor = token(workspace, "editor", sub="ed-7")
    tool = created(api.post(BASE, token=editor, json=TOOL))
    response = api.patch(
        f"{BASE}/{tool['id']}",
        token=editor,
        json={"config": {"method": "POST", "timeout_s": 20}, "description": "Find orders"},
    )
    assert response.status == 200, response.text
    updated = response.json()
    assert updated["config"]["method"] == "POST" and updated["config"]["timeout_s"] == 20
    assert updated["config"]["url"] == TOOL["config"]["url"]  # merged, not replaced
    assert updated["description"] == "Find orders"
    assert updated["updated_at"] > tool["updated_at"]
    events = api.get(f"/v1/ai-agents/{SLUG}/audit-events", token=editor).json()["items"]
    event = events[0]
    assert event["action"] == "tool.updated" and event["resource_type"] == "tool"
    assert event["resource_id"] == tool["id"] and event["actor_id"] == "ed-7"
    assert event["request_id"]
    assert event["before_state"]["handler_kind"] == "http"
    assert event["after_state"]["handler_kind"] == "http"
    assert event["before_state"]["config"] == tool["config"]
    assert event["after_state"]["config"] == updated["config"]
    assert event["before_state"]["config"]["method"] == "GET"
    logged = owner_sql.execute(
        "SELECT before_state, after_state FROM audit_log WHERE workspace_id = %s"
        " AND action = 'tool.updated' AND resource_id = %s",
        (workspace, tool["id"]),
    ).fetchone()
    assert logged is not None
    assert logged["before_state"]["config"]["method"] == "GET"
    assert logged["after_state"]["config"]["method"] == "POST"


def test_update_that_adds_a_missing_secret_is_refused_and_changes_nothing(
    api: ApiClient, workspace: uuid.UUID, token: Token, owner_sql: Conn, agent: dict[str, Any]
) -> None:
    editor = token(workspace, "editor")
    tool = created(api.post(BASE, token=editor, json=TOOL))
    before = table_counts(owner_sql)
    response = api.patch(
        f"{BASE}/{tool['id']}",
        token=editor,
        json={"config": {"headers": {"X-Key": "{{secret:MISSING}}"}}},
    )
    assert "MISSING" in problem_of(response, 422, "validation")["detail"]
    assert table_counts(owner_sql) == before
    assert api.get(f"{BASE}/{tool['id']}", token=editor).json()["config"] == tool["config"]


def test_tool_names_are_unique_per_agent(
    api: ApiClient, workspace: uuid.UUID, token: Token, owner_sql: Conn, agent: dict[str, Any]
) -> None:
    editor = token(workspace, "editor")
    first = created(api.post(BASE, token=editor, json=TOOL))
    before = table_counts(owner_sql)
    problem_of(api.post(BASE, token=editor, json=TOOL), 409, "conflict")
    other = created(api.post(BASE, token=editor, json={**TOOL, "name": "other_tool"}))
    problem_of(
        api.patch(f"{BASE}/{other['id']}", token=editor, json={"name": TOOL["name"]}),
        409,
        "conflict",
    )
    assert table_counts(owner_sql)["ai_agent_tools"] == before["ai_agent_tools"] + 1
    create_agent(api, editor, slug="second-bot")
    created(api.post("/v1/ai-agents/second-bot/tools", token=editor, json=TOOL))
    listed = api.get(BASE, token=token(workspace, "viewer")).json()["items"]
    assert [t["name"] for t in listed] == ["lookup_order", "other_tool"]
    assert listed[0]["id"] == first["id"]


def test_placeholders_in_the_host_are_vetted_at_call_time(
    api: ApiClient, workspace: uuid.UUID, token: Token, agent: dict[str, Any]
) -> None:
    tool = {**TOOL, "config": {"method": "GET", "url": "https://{{host}}/v1/{{order_id}}"}}
    tool["input_schema"] = {"type": "object", "properties": {"host": {}, "order_id": {}}}
    assert created(api.post(BASE, token=token(workspace, "editor"), json=tool))["secret_refs"] == []


def test_private_urls_are_allowed_when_the_deployment_allows_them(
    api: ApiClient,
    workspace: uuid.UUID,
    token: Token,
    agent: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tool = {**TOOL, "config": {"method": "GET", "url": "http://10.0.0.8:8080/orders"}}
    problem_of(api.post(BASE, token=token(workspace, "editor"), json=tool), 422, "validation")
    monkeypatch.setenv("CONVOSHIP_ALLOW_PRIVATE_NETWORK", "1")
    reset_settings()
    created(api.post(BASE, token=token(workspace, "editor"), json=tool))


def config_with(**changes: Any) -> dict[str, Any]:
    return {**TOOL, "config": {**TOOL["config"], **changes}}  # type: ignore[dict-item]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**TOOL, "name": "1starts_with_digit"}, "name"),
        ({**TOOL, "name": "has space"}, "name"),
        ({**TOOL, "name": "n" * 65}, "name"),
        ({**TOOL, "handler_kind": "lambda"}, "handler_kind"),
        ({**TOOL, "description": "d" * 2001}, "description"),
        ({**TOOL, "extra": True}, "extra"),
        ({k: v for k, v in TOOL.items() if k != "config"}, "config"),
        (config_with(method="TRACE"), "method"),
        (config_with(timeout_s=0), "timeout_s"),
        (config_with(timeout_s=31), "timeout_s"),
        (config_with(timeout_s="5"), "timeout_s"),
        (config_with(retries=3), "retries"),
        (config_with(headers={"Bad Header": "x"}), "headers"),
        (config_with(headers={"X-Ok": "line\r\nInjected: 1"}), "headers"),
        (config_with(headers={"X-Num": 5}), "headers"),
        (config_with(headers={"host": "other.example.net"}), "headers"),
        (config_with(url="ftp://files.example.com/x"), "url"),
        (config_with(url="http://api.example.com/x"), "url"),
        (config_with(url="https://localhost/x"), "url"),
        (config_with(url="https://127.0.0.1/x"), "url"),
        (config_with(url="https://169.254.169.254/latest/meta-data"), "url"),
        (config_with(url="https://[::1]/x"), "url"),
        (config_with(url="https://user:pw@api.example.com/x"), "url"),
        (config_with(url="not a url"), "url"),
        (config_with(headers={"X-Key": "{{secret:bad name}}"}), "config"),
        ({**TOOL, "input_schema": {"type": "string"}}, "input_schema"),
        ({**TOOL, "input_schema": {"type": "object", "properties": 5}}, "input_schema"),
        ({**TOOL, "input_schema": {"type": "object", "required": "x"}}, "input_schema"),
        ({**TOOL, "input_schema": []}, "input_schema"),
    ],
)
def test_tool_bodies_are_validated(
    api: ApiClient,
    workspace: uuid.UUID,
    token: Token,
    owner_sql: Conn,
    agent: dict[str, Any],
    body: Any,
    field: str,
) -> None:
    before = table_counts(owner_sql)
    response = api.post(BASE, token=token(workspace, "editor"), json=body)
    locs = error_locs(problem_of(response, 422, "validation"))
    assert any(field in loc for loc in locs), locs
    assert table_counts(owner_sql) == before


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": None},
        {"config": {"timeout_s": 99}},
        {"config": {"url": "https://10.1.1.1/"}},
        {"config": {"unknown": 1}},
        {"input_schema": {"type": "array"}},
        {"handler_kind": "grpc"},
        {"secret_refs": ["API_KEY"]},
    ],
)
def test_tool_patches_are_validated_whole(
    api: ApiClient,
    workspace: uuid.UUID,
    token: Token,
    owner_sql: Conn,
    agent: dict[str, Any],
    body: Any,
) -> None:
    editor = token(workspace, "editor")
    tool = created(api.post(BASE, token=editor, json=TOOL))
    before = table_counts(owner_sql)
    problem_of(api.patch(f"{BASE}/{tool['id']}", token=editor, json=body), 422, "validation")
    assert table_counts(owner_sql) == before


def test_oversized_tool_config_is_refused(
    api: ApiClient, workspace: uuid.UUID, token: Token, agent: dict[str, Any]
) -> None:
    response = api.post(
        BASE, token=token(workspace, "editor"), json=config_with(body={"blob": "x" * 70_000})
    )
    assert ["body", "config"] in error_locs(problem_of(response, 422, "validation"))


def test_tools_of_an_unknown_agent_or_id_are_404(
    api: ApiClient, workspace: uuid.UUID, token: Token, agent: dict[str, Any]
) -> None:
    editor = token(workspace, "editor")
    problem_of(api.get("/v1/ai-agents/ghost/tools", token=editor), 404, "not-found")
    problem_of(api.post("/v1/ai-agents/ghost/tools", token=editor, json=TOOL), 404, "not-found")
    missing = f"{BASE}/{uuid.uuid4()}"
    problem_of(api.get(missing, token=editor), 404, "not-found")
    problem_of(api.patch(missing, token=editor, json={"description": "x"}), 404, "not-found")
    problem_of(api.delete(missing, token=editor), 404, "not-found")
    problem_of(api.delete(f"{BASE}/123", token=editor), 422, "validation")


def test_new_user_flow_shows_tool_changes_in_both_audit_trails(
    api: ApiClient, workspace: uuid.UUID, token: Token, agent: dict[str, Any]
) -> None:
    owner = token(workspace, "owner", sub="owner-1")
    problem_of(api.post(BASE, token=owner, json=SECRET_TOOL), 422, "validation")
    secret = {"name": "API_KEY", "value": "v", "allowed_hosts": ["crm.example.com"]}
    assert api.post("/v1/secrets", token=owner, json=secret).status == 201
    tool = created(api.post(BASE, token=owner, json=SECRET_TOOL))
    patched = api.patch(f"{BASE}/{tool['id']}", token=owner, json={"config": {"timeout_s": 9}})
    assert patched.status == 200, patched.text
    events = api.get(f"/v1/ai-agents/{SLUG}/audit-events?limit=2", token=owner).json()["items"]
    assert [e["action"] for e in events] == ["tool.updated", "tool.created"]
    assert events[0]["before_state"]["config"]["timeout_s"] == 5
    assert events[0]["after_state"]["config"]["timeout_s"] == 9
    log = api.get(f"/v1/audit-log?resource_type=tool&resource_id={tool['id']}", token=owner)
    assert log.status == 200, log.text
    assert [e["action"] for e in log.json()["items"]] == ["tool.updated", "tool.created"]
    assert log.json()["items"][0]["after_state"] == events[0]["after_state"]


@pytest.mark.parametrize(
    "url",
    [
        "https://api.example.com/orders/{{args.order_id}}",
        "https://api.example.com/orders/{{undeclared}}",
        "https://api.example.com/orders/{{ }}",
    ],
)
def test_placeholders_must_be_declared_arguments(
    api: ApiClient, token: Token, workspace: uuid.UUID, url: str
) -> None:
    editor = token(workspace, "editor")
    create_agent(api, editor, slug=SLUG)
    body = {**TOOL, "config": {**TOOL["config"], "url": url}}  # type: ignore[dict-item]
    problem = problem_of(api.post(BASE, token=editor, json=body), 422, "validation")
    assert error_locs(problem) == [["body", "config"]]
    assert "input_schema.properties" in problem["detail"]
