"""Helpers shared by the agents API tests: problems, row counts, a populated agent."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from tests.support.api_client import ApiClient, ApiResponse

Token = Callable[..., str]
Conn = psycopg.Connection[dict[str, Any]]
SLUG = "support-bot"
GUARDRAIL_KINDS = ["AUTH", "LIMIT", "REDACT", "ESCALATE", "BUDGET"]


def problem_of(response: ApiResponse, status: int, slug: str) -> dict[str, Any]:
    assert response.status == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["type"] == f"/problems/{slug}" and body["status"] == status
    return body


def error_locs(problem: dict[str, Any]) -> list[list[Any]]:
    assert problem["errors"] and all({"loc", "msg"} <= set(e) for e in problem["errors"])
    return [e["loc"] for e in problem["errors"]]


def table_counts(owner_sql: Conn) -> dict[str, int]:
    """Rows in every table of the database (all workspaces)."""
    tables = [
        r["tablename"]
        for r in owner_sql.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
    ]
    counts = {}
    for table in tables:
        row = owner_sql.execute(f"SELECT count(*) AS n FROM {table}".encode()).fetchone()
        assert row is not None
        counts[table] = int(row["n"])
    return counts


def workspace_rows(owner_sql: Conn, table: str, workspace: object) -> list[dict[str, Any]]:
    """Every row of table in workspace, as comparable JSON (a change anywhere shows)."""
    return [
        r["row"]
        for r in owner_sql.execute(
            f"SELECT to_jsonb(t) AS row FROM {table} t WHERE workspace_id = %s"
            " ORDER BY to_jsonb(t)::text".encode(),
            (workspace,),
        )
    ]


def count(owner_sql: Conn, query: str, *params: Any) -> int:
    row = owner_sql.execute(query.encode(), params).fetchone()
    assert row is not None
    return int(next(iter(row.values())))


def create_agent(api: ApiClient, token: str, **body: Any) -> dict[str, Any]:
    response = api.post("/v1/ai-agents", token=token, json={"name": "Support Bot", **body})
    assert response.status == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def created(response: ApiResponse) -> dict[str, Any]:
    assert response.status == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@dataclass(frozen=True)
class Populated:
    """An agent with one of everything, in one workspace."""

    workspace: uuid.UUID
    agent: dict[str, Any]
    guardrail_id: str
    tool_id: str
    eval_id: str
    draft_id: str
    conversation_id: str


TOOL = {
    "name": "lookup_order",
    "description": "Find an order by id",
    "config": {"method": "GET", "url": "https://api.example.com/orders/{{order_id}}"},
    "input_schema": {
        "type": "object",
        "properties": {"order_id": {"type": "string"}},
        "required": ["order_id"],
    },
}
EVAL = {
    "name": "greets",
    "input": "hello",
    "assertions": [{"type": "contains", "value": "hi"}, {"type": "regex", "value": "^H"}],
}


def seed_history(
    owner_sql: Conn, workspace: object, agent_id: object, conversation_id: object = None
) -> str:
    """A published version and a conversation with two messages, as the later functions
    would write them; returns the conversation id."""
    owner_sql.execute(
        "INSERT INTO ai_agent_versions (workspace_id, agent_id, version, config, guardrails,"
        " tools, eval_results, eval_pass_rate, eval_threshold, note, created_by)"
        " VALUES (%s, %s, 1, %s, '[]', '[]', '[]', NULL, 0, 'first', 'user-1')",
        (workspace, agent_id, Jsonb({"system_prompt": "v1"})),
    )
    row = owner_sql.execute(
        "INSERT INTO ai_agent_conversations (id, workspace_id, agent_id, channel, version)"
        " VALUES (COALESCE(%s, gen_random_uuid()), %s, %s, 'embed', 1) RETURNING id",
        (conversation_id, workspace, agent_id),
    ).fetchone()
    assert row is not None
    for seq, role, content in ((2, "assistant", "Hi!"), (1, "user", "hello")):
        owner_sql.execute(
            "INSERT INTO ai_agent_messages (workspace_id, conversation_id, seq, role, content)"
            " VALUES (%s, %s, %s, %s, %s)",
            (workspace, row["id"], seq, role, content),
        )
    return str(row["id"])


def populate(api: ApiClient, owner_sql: Conn, workspace: uuid.UUID, editor: str) -> Populated:
    agent = create_agent(api, editor, slug=SLUG)
    base = f"/v1/ai-agents/{SLUG}"
    tool = created(api.post(f"{base}/tools", token=editor, json=TOOL))
    evaluation = created(api.post(f"{base}/evals", token=editor, json=EVAL))
    draft = created(api.post("/v1/ai-agent-drafts", token=editor, json={"data": {"step": 1}}))
    return Populated(
        workspace=workspace,
        agent=agent,
        guardrail_id=agent["guardrails"][1]["id"],
        tool_id=tool["id"],
        eval_id=evaluation["id"],
        draft_id=draft["id"],
        conversation_id=seed_history(owner_sql, workspace, agent["id"]),
    )
