"""Versions, conversations and audit events of an agent through the gateway emulation."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.support.agents import (
    SLUG,
    Conn,
    Token,
    create_agent,
    problem_of,
    seed_history,
)
from tests.support.api_client import ApiClient

BASE = f"/v1/ai-agents/{SLUG}"


# --- audit events ---------------------------------------------------------------------


@pytest.mark.parametrize("limit", ["0", "101", "-1", "ten", "1.5"])
def test_audit_event_limit_outside_1_to_100_is_422(
    api: ApiClient, workspace: uuid.UUID, token: Token, limit: str
) -> None:
    create_agent(api, token(workspace, "editor"))
    response = api.get(f"{BASE}/audit-events?limit={limit}", token=token(workspace, "viewer"))
    problem = problem_of(response, 422, "validation")
    assert ["query", "limit"] in [e["loc"] for e in problem["errors"]]


def test_audit_events_are_newest_first_and_limited(
    api: ApiClient, workspace: uuid.UUID, token: Token
) -> None:
    editor, viewer = token(workspace, "editor"), token(workspace, "viewer")
    create_agent(api, editor)
    for n in range(6):
        assert api.patch(BASE, token=editor, json={"description": f"rev {n}"}).status == 200
    everything = api.get(f"{BASE}/audit-events", token=viewer)
    assert everything.status == 200
    items = everything.json()["items"]
    assert [e["action"] for e in items] == ["agent.updated"] * 6 + ["agent.created"]
    assert [e["after_state"]["description"] for e in items[:6]] == [
        f"rev {n}" for n in range(5, -1, -1)
    ]
    stamps = [e["occurred_at"] for e in items]
    assert stamps == sorted(stamps, reverse=True) and len(set(stamps)) == len(stamps)
    first = items[0]
    assert set(first) >= {
        "actor_type",
        "actor_id",
        "action",
        "resource_type",
        "resource_id",
        "before_state",
        "after_state",
        "request_id",
        "occurred_at",
    }
    assert first["actor_type"] == "user" and first["resource_type"] == "agent"
    # limit bounds are inclusive, and pages follow each other without gaps
    assert len(api.get(f"{BASE}/audit-events?limit=1", token=viewer).json()["items"]) == 1
    assert len(api.get(f"{BASE}/audit-events?limit=100", token=viewer).json()["items"]) == 7
    page = api.get(f"{BASE}/audit-events?limit=3", token=viewer).json()
    assert [e["id"] for e in page["items"]] == [e["id"] for e in items[:3]]
    rest = api.get(
        f"{BASE}/audit-events?limit=10&cursor={page['next_cursor']}", token=viewer
    ).json()
    assert [e["id"] for e in rest["items"]] == [e["id"] for e in items[3:]]
    assert rest["next_cursor"] is None
    problem_of(api.get(f"{BASE}/audit-events?cursor=garbage!", token=viewer), 422, "validation")


def test_request_id_is_recorded_on_audit_events(
    api: ApiClient, workspace: uuid.UUID, token: Token
) -> None:
    editor = token(workspace, "editor")
    response = api.post(
        "/v1/ai-agents",
        token=editor,
        json={"name": "Support Bot"},
        headers={"X-Request-Id": "req-agent-1"},
    )
    assert response.status == 201
    events = api.get(f"{BASE}/audit-events", token=editor).json()["items"]
    assert events[0]["request_id"] == "req-agent-1"


def test_audit_events_of_an_unknown_agent_are_404(
    api: ApiClient, workspace: uuid.UUID, token: Token
) -> None:
    problem_of(
        api.get("/v1/ai-agents/ghost/audit-events", token=token(workspace, "viewer")),
        404,
        "not-found",
    )


# --- versions and conversations -------------------------------------------------------


def test_versions_are_empty_until_published_then_readable(
    api: ApiClient, workspace: uuid.UUID, token: Token, owner_sql: Conn
) -> None:
    viewer = token(workspace, "viewer")
    agent = create_agent(api, token(workspace, "editor"))
    assert api.get(f"{BASE}/versions", token=viewer).json() == {"items": []}
    problem_of(api.get(f"{BASE}/versions/1", token=viewer), 404, "not-found")
    seed_history(owner_sql, workspace, agent["id"])
    listed = api.get(f"{BASE}/versions", token=viewer).json()["items"]
    assert [v["version"] for v in listed] == [1]
    version = api.get(f"{BASE}/versions/1", token=viewer).json()
    assert version["config"] == {"system_prompt": "v1"} and version["note"] == "first"
    assert version["eval_results"] == [] and version["eval_pass_rate"] is None
    assert version["eval_threshold"] == 0 and version["created_by"] == "user-1"
    assert {"guardrails", "tools", "created_at"} <= set(version)
    problem_of(api.get(f"{BASE}/versions/2", token=viewer), 404, "not-found")
    problem_of(api.get(f"{BASE}/versions/0", token=viewer), 422, "validation")
    problem_of(api.get(f"{BASE}/versions/latest", token=viewer), 422, "validation")


def test_conversation_transcript_in_message_order(
    api: ApiClient, workspace: uuid.UUID, token: Token, owner_sql: Conn
) -> None:
    viewer = token(workspace, "viewer")
    agent = create_agent(api, token(workspace, "editor"))
    conversation_id = seed_history(owner_sql, workspace, agent["id"])
    response = api.get(f"{BASE}/conversations/{conversation_id}", token=viewer)
    assert response.status == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["id"] == conversation_id and body["channel"] == "embed"
    assert body["status"] == "active" and body["version"] == 1
    assert body["usage"] == {"input_tokens": 0, "output_tokens": 0}
    assert [(m["role"], m["content"]) for m in body["messages"]] == [
        ("user", "hello"),
        ("assistant", "Hi!"),
    ]
    assert set(body["messages"][0]) >= {"role", "content", "tool_name", "tool_args", "created_at"}
    problem_of(api.get(f"{BASE}/conversations/{uuid.uuid4()}", token=viewer), 404, "not-found")


def test_conversations_are_newest_first_and_paged(
    api: ApiClient, workspace: uuid.UUID, token: Token, owner_sql: Conn
) -> None:
    viewer = token(workspace, "viewer")
    agent = create_agent(api, token(workspace, "editor"))
    ids = []
    for minutes in range(5):
        row = owner_sql.execute(
            "INSERT INTO ai_agent_conversations (workspace_id, agent_id, channel, created_at)"
            " VALUES (%s, %s, 'playground', now() - make_interval(mins => %s)) RETURNING id",
            (workspace, agent["id"], minutes),
        ).fetchone()
        assert row is not None
        ids.append(str(row["id"]))
    everything = api.get(f"{BASE}/conversations", token=viewer).json()
    assert [c["id"] for c in everything["items"]] == ids and everything["next_cursor"] is None
    page = api.get(f"{BASE}/conversations?limit=2", token=viewer).json()
    assert [c["id"] for c in page["items"]] == ids[:2]
    rest = api.get(
        f"{BASE}/conversations?limit=100&cursor={page['next_cursor']}", token=viewer
    ).json()
    assert [c["id"] for c in rest["items"]] == ids[2:]
    for limit in ("0", "101"):
        problem_of(api.get(f"{BASE}/conversations?limit={limit}", token=viewer), 422, "validation")
