"""Another workspace's agents and everything under them are 404 (never 403), for reads and
writes alike, and such requests change nothing anywhere."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.support.agents import (
    EVAL,
    SLUG,
    TOOL,
    Conn,
    Populated,
    Token,
    create_agent,
    populate,
    problem_of,
    table_counts,
    workspace_rows,
)
from tests.support.api_client import ApiClient

AGENT_TABLES = (
    "ai_agents",
    "ai_agent_guardrails",
    "ai_agent_tools",
    "ai_agent_evals",
    "ai_agent_versions",
    "ai_agent_conversations",
    "ai_agent_messages",
    "ai_agent_drafts",
    "ai_agent_audit_events",
    "audit_log",
)
B = f"/v1/ai-agents/{SLUG}"


def by_id_routes(p: Populated) -> list[tuple[str, str, Any]]:
    """Routes naming one of A's sub-resources by id."""
    return [
        ("GET", f"{B}/guardrails/{p.guardrail_id}", None),
        ("PATCH", f"{B}/guardrails/{p.guardrail_id}", {"enabled": False}),
        ("DELETE", f"{B}/guardrails/{p.guardrail_id}", None),
        ("GET", f"{B}/tools/{p.tool_id}", None),
        ("PATCH", f"{B}/tools/{p.tool_id}", {"description": "hijacked"}),
        ("DELETE", f"{B}/tools/{p.tool_id}", None),
        ("GET", f"{B}/evals/{p.eval_id}", None),
        ("PATCH", f"{B}/evals/{p.eval_id}", {"name": "hijacked"}),
        ("DELETE", f"{B}/evals/{p.eval_id}", None),
        ("GET", f"{B}/conversations/{p.conversation_id}", None),
        ("GET", f"/v1/ai-agent-drafts/{p.draft_id}", None),
        ("PATCH", f"/v1/ai-agent-drafts/{p.draft_id}", {"data": {"hijacked": True}}),
        ("DELETE", f"/v1/ai-agent-drafts/{p.draft_id}", None),
    ]


def agent_routes() -> list[tuple[str, str, Any]]:
    """Routes naming A's agent by slug."""
    return [
        ("GET", B, None),
        ("PATCH", B, {"name": "hijacked"}),
        ("DELETE", B, None),
        ("GET", f"{B}/guardrails", None),
        ("POST", f"{B}/guardrails", {"kind": "LIMIT"}),
        ("GET", f"{B}/tools", None),
        ("POST", f"{B}/tools", {**TOOL, "name": "other"}),
        ("GET", f"{B}/evals", None),
        ("POST", f"{B}/evals", EVAL),
        ("GET", f"{B}/versions", None),
        ("GET", f"{B}/versions/1", None),
        ("GET", f"{B}/conversations", None),
        ("GET", f"{B}/audit-events", None),
    ]


@pytest.fixture
def populated(api: ApiClient, workspace: uuid.UUID, token: Token, owner_sql: Conn) -> Populated:
    return populate(api, owner_sql, workspace, token(workspace, "editor"))


def snapshot(owner_sql: Conn, workspace: uuid.UUID) -> dict[str, Any]:
    return {
        "counts": table_counts(owner_sql),
        "rows": {t: workspace_rows(owner_sql, t, workspace) for t in AGENT_TABLES},
    }


def test_another_workspace_without_the_agent_gets_404_everywhere(
    api: ApiClient,
    workspace: uuid.UUID,
    other_workspace: uuid.UUID,
    token: Token,
    owner_sql: Conn,
    populated: Populated,
) -> None:
    intruder = token(other_workspace, "owner")
    before = snapshot(owner_sql, workspace)
    for method, path, body in agent_routes() + by_id_routes(populated):
        response = api.request(method, path, token=intruder, json=body)
        problem_of(response, 404, "not-found")
        assert populated.agent["id"] not in response.text, path
    assert api.get("/v1/ai-agents", token=intruder).json() == {"items": []}
    assert api.get("/v1/ai-agent-drafts", token=intruder).json() == {"items": []}
    assert snapshot(owner_sql, workspace) == before


def test_another_workspace_with_the_same_slug_cannot_reach_our_sub_resources(
    api: ApiClient,
    workspace: uuid.UUID,
    other_workspace: uuid.UUID,
    token: Token,
    owner_sql: Conn,
    populated: Populated,
) -> None:
    intruder = token(other_workspace, "owner")
    theirs = create_agent(api, intruder, slug=SLUG)
    before = snapshot(owner_sql, workspace)
    for method, path, body in by_id_routes(populated):
        problem_of(api.request(method, path, token=intruder, json=body), 404, "not-found")
    # Their own lists hold only their rows
    assert api.get(B, token=intruder).json()["id"] == theirs["id"]
    guardrail_ids = {g["id"] for g in api.get(f"{B}/guardrails", token=intruder).json()["items"]}
    assert guardrail_ids == {g["id"] for g in theirs["guardrails"]}
    assert api.get(f"{B}/tools", token=intruder).json() == {"items": []}
    assert api.get(f"{B}/evals", token=intruder).json() == {"items": []}
    assert api.get(f"{B}/versions", token=intruder).json() == {"items": []}
    assert api.get(f"{B}/conversations", token=intruder).json()["items"] == []
    events = api.get(f"{B}/audit-events", token=intruder).json()["items"]
    assert [e["resource_id"] for e in events] == [theirs["id"]]
    assert snapshot(owner_sql, workspace) == before
