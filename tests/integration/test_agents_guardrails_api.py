"""Guardrails through the gateway emulation: one per kind, config validated per kind,
merged PATCH, AUTH secret references, audit."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.support.agents import (
    SLUG,
    Conn,
    Token,
    create_agent,
    created,
    error_locs,
    problem_of,
    table_counts,
)
from tests.support.api_client import ApiClient

BASE = f"/v1/ai-agents/{SLUG}/guardrails"


@pytest.fixture
def rails(api: ApiClient, workspace: uuid.UUID, token: Token) -> dict[str, dict[str, Any]]:
    """The new agent's guardrails by kind."""
    agent = create_agent(api, token(workspace, "editor"))
    return {g["kind"]: g for g in agent["guardrails"]}


def test_list_returns_the_seeded_guardrails_in_kind_order(
    api: ApiClient, workspace: uuid.UUID, token: Token, rails: dict[str, dict[str, Any]]
) -> None:
    response = api.get(BASE, token=token(workspace, "viewer"))
    assert response.status == 200
    items = response.json()["items"]
    assert [g["kind"] for g in items] == ["AUTH", "LIMIT", "REDACT", "ESCALATE", "BUDGET"]
    assert {g["id"] for g in items} == {g["id"] for g in rails.values()}
    one = api.get(f"{BASE}/{rails['LIMIT']['id']}", token=token(workspace, "viewer"))
    assert one.status == 200 and one.json()["kind"] == "LIMIT"
    problem_of(
        api.get("/v1/ai-agents/ghost/guardrails", token=token(workspace, "viewer")),
        404,
        "not-found",
    )


def test_patch_merges_config_toggles_enabled_and_audits(
    api: ApiClient,
    workspace: uuid.UUID,
    token: Token,
    owner_sql: Conn,
    rails: dict[str, dict[str, Any]],
) -> None:
    editor = token(workspace, "editor", sub="ed-9")
    limit_id = rails["LIMIT"]["id"]
    response = api.patch(
        f"{BASE}/{limit_id}", token=editor, json={"config": {"max_input_chars": 1000}}
    )
    assert response.status == 200, response.text
    assert response.json()["config"] == {
        "max_input_chars": 1000,
        "max_turns_per_conversation": 50,
        "max_tool_calls_per_turn": 5,
    }
    disabled = api.patch(f"{BASE}/{limit_id}", token=editor, json={"enabled": False})
    assert disabled.json()["enabled"] is False
    assert disabled.json()["config"]["max_input_chars"] == 1000
    events = owner_sql.execute(
        "SELECT actor_id, resource_id, before_state, after_state FROM ai_agent_audit_events"
        " WHERE workspace_id = %s AND action = 'guardrail.updated' ORDER BY occurred_at",
        (workspace,),
    ).fetchall()
    assert [e["resource_id"] for e in events] == [limit_id, limit_id]
    assert events[0]["actor_id"] == "ed-9"
    assert events[0]["before_state"]["config"]["max_input_chars"] == 4000
    assert events[0]["after_state"]["config"]["max_input_chars"] == 1000
    assert events[1]["before_state"]["enabled"] is True
    assert events[1]["after_state"]["enabled"] is False


def test_one_guardrail_per_kind(
    api: ApiClient,
    workspace: uuid.UUID,
    token: Token,
    owner_sql: Conn,
    rails: dict[str, dict[str, Any]],
) -> None:
    editor = token(workspace, "editor")
    before = table_counts(owner_sql)
    problem_of(api.post(BASE, token=editor, json={"kind": "BUDGET"}), 409, "conflict")
    assert table_counts(owner_sql) == before
    deleted = api.delete(f"{BASE}/{rails['BUDGET']['id']}", token=editor)
    assert deleted.status == 204
    problem_of(api.delete(f"{BASE}/{rails['BUDGET']['id']}", token=editor), 404, "not-found")
    again = created(
        api.post(
            BASE,
            token=editor,
            json={"kind": "BUDGET", "config": {"max_tokens_per_day": 5000}, "enabled": False},
        )
    )
    assert again["config"] == {"max_tokens_per_conversation": 20000, "max_tokens_per_day": 5000}
    assert again["enabled"] is False
    actions = [
        r["action"]
        for r in owner_sql.execute(
            "SELECT action FROM ai_agent_audit_events WHERE workspace_id = %s"
            " AND resource_type = 'guardrail' ORDER BY occurred_at",
            (workspace,),
        )
    ]
    assert actions == ["guardrail.deleted", "guardrail.created"]


@pytest.mark.parametrize(
    ("kind", "config", "field"),
    [
        ("LIMIT", {"max_input_chars": 0}, "max_input_chars"),
        ("LIMIT", {"max_input_chars": 100001}, "max_input_chars"),
        ("LIMIT", {"max_turns_per_conversation": "50"}, "max_turns_per_conversation"),
        ("LIMIT", {"max_tool_calls_per_turn": 21}, "max_tool_calls_per_turn"),
        ("LIMIT", {"max_tool_calls_per_turn": 2.5}, "max_tool_calls_per_turn"),
        ("LIMIT", {"max_input_chars": True}, "max_input_chars"),
        ("LIMIT", {"max_chars": 10}, "max_chars"),
        ("REDACT", {"entities": ["EMAIL", "PASSPORT"]}, "entities"),
        ("REDACT", {"entities": "EMAIL"}, "entities"),
        ("ESCALATE", {"keywords": [""]}, "keywords"),
        ("ESCALATE", {"message": ""}, "message"),
        ("ESCALATE", {"message": "m" * 2001}, "message"),
        ("BUDGET", {"max_tokens_per_day": 0}, "max_tokens_per_day"),
        ("BUDGET", {"max_tokens_per_conversation": -5}, "max_tokens_per_conversation"),
        ("AUTH", {"allowed_origins": ["example.com"]}, "allowed_origins"),
        ("AUTH", {"allowed_origins": ["https://example.com/app"]}, "allowed_origins"),
        ("AUTH", {"allowed_origins": ["ftp://example.com"]}, "allowed_origins"),
        ("AUTH", {"allowed_origins": "*"}, "allowed_origins"),
        ("AUTH", {"visitor_token_secret": "s3cr3t-value"}, "visitor_token_secret"),
        ("AUTH", {"visitor_token_secret": "{{secret:NOT_THERE}}"}, "visitor_token_secret"),
        ("AUTH", {"extra": 1}, "extra"),
    ],
)
def test_config_is_validated_per_kind_on_patch(
    api: ApiClient,
    workspace: uuid.UUID,
    token: Token,
    owner_sql: Conn,
    rails: dict[str, dict[str, Any]],
    kind: str,
    config: dict[str, Any],
    field: str,
) -> None:
    before = table_counts(owner_sql)
    response = api.patch(
        f"{BASE}/{rails[kind]['id']}", token=token(workspace, "editor"), json={"config": config}
    )
    locs = error_locs(problem_of(response, 422, "validation"))
    assert any(loc[:2] == ["body", "config"] and field in loc for loc in locs), locs
    assert table_counts(owner_sql) == before


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "NOPE"},
        {"kind": "limit"},
        {},
        {"kind": "LIMIT", "enabled": "yes"},
        {"kind": "LIMIT", "config": {"max_input_chars": -1}},
        {"kind": "LIMIT", "config": []},
        {"kind": "LIMIT", "id": "x"},
    ],
)
def test_create_rejects_bad_bodies(
    api: ApiClient,
    workspace: uuid.UUID,
    token: Token,
    owner_sql: Conn,
    rails: dict[str, dict[str, Any]],
    body: Any,
) -> None:
    editor = token(workspace, "editor")
    assert api.delete(f"{BASE}/{rails['LIMIT']['id']}", token=editor).status == 204
    before = table_counts(owner_sql)
    problem_of(api.post(BASE, token=editor, json=body), 422, "validation")
    assert table_counts(owner_sql) == before


@pytest.mark.parametrize(
    "body", [{}, {"kind": "AUTH"}, {"enabled": None}, {"config": None}, {"enabled": 1}]
)
def test_patch_rejects_bad_bodies(
    api: ApiClient,
    workspace: uuid.UUID,
    token: Token,
    rails: dict[str, dict[str, Any]],
    body: Any,
) -> None:
    response = api.patch(
        f"{BASE}/{rails['AUTH']['id']}", token=token(workspace, "editor"), json=body
    )
    problem_of(response, 422, "validation")


def test_unknown_or_malformed_guardrail_ids(
    api: ApiClient, workspace: uuid.UUID, token: Token, rails: dict[str, dict[str, Any]]
) -> None:
    editor = token(workspace, "editor")
    missing = str(uuid.uuid4())
    problem_of(
        api.patch(f"{BASE}/{missing}", token=editor, json={"enabled": False}), 404, "not-found"
    )
    problem_of(api.get(f"{BASE}/{missing}", token=editor), 404, "not-found")
    problem_of(
        api.patch(f"{BASE}/not-a-uuid", token=editor, json={"enabled": False}), 422, "validation"
    )
    # A guardrail id of this workspace, under another agent's slug, is not found either
    create_agent(api, editor, slug="second-bot")
    problem_of(
        api.patch(
            f"/v1/ai-agents/second-bot/guardrails/{rails['AUTH']['id']}",
            token=editor,
            json={"enabled": False},
        ),
        404,
        "not-found",
    )


def test_auth_origins_are_normalised_and_secrets_are_references_only(
    api: ApiClient, workspace: uuid.UUID, token: Token, rails: dict[str, dict[str, Any]]
) -> None:
    editor, admin = token(workspace, "editor"), token(workspace, "admin")
    auth_path = f"{BASE}/{rails['AUTH']['id']}"
    response = api.patch(
        auth_path,
        token=editor,
        json={
            "config": {
                "allowed_origins": [
                    "https://Shop.Example.com",
                    "https://example.com:443",
                    "http://localhost:8080",
                ]
            }
        },
    )
    assert response.status == 200, response.text
    assert response.json()["config"]["allowed_origins"] == [
        "https://shop.example.com",
        "https://example.com",
        "http://localhost:8080",
    ]
    # A secret reference works once the secret exists; the value never shows
    reference = {"config": {"visitor_token_secret": "{{secret:VISITOR_KEY}}"}}
    problem = problem_of(api.patch(auth_path, token=editor, json=reference), 422, "validation")
    assert "VISITOR_KEY" in problem["errors"][0]["msg"]
    made = api.post("/v1/secrets", token=admin, json={"name": "VISITOR_KEY", "value": "hush-42"})
    assert made.status == 201, made.text
    saved = api.patch(auth_path, token=editor, json=reference)
    assert saved.status == 200, saved.text
    assert saved.json()["config"]["visitor_token_secret"] == "{{secret:VISITOR_KEY}}"
    assert "hush-42" not in api.get(BASE, token=editor).text
    cleared = api.patch(auth_path, token=editor, json={"config": {"visitor_token_secret": None}})
    assert cleared.json()["config"]["visitor_token_secret"] is None
    assert cleared.json()["config"]["allowed_origins"][0] == "https://shop.example.com"
