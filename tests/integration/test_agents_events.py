"""events/agents: one file per route of AgentsFunction in template.yaml, each answered by
the real handler (as `sam local invoke -e` would run it) without a server error."""

from __future__ import annotations

import asyncio
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from convoship_dev.handlers import load_handler
from convoship_dev.lambda_events import LambdaContext
from convoship_dev.template import load_template
from tests.support.agents import Conn, seed_history
from tests.support.api_client import TEMPLATE

EVENTS = Path(__file__).resolve().parents[2] / "events" / "agents"
EXPECTED = {
    "create_agent": 201,
    "list_agents": 200,
    "get_agent": 200,
    "patch_agent": 200,
    "delete_agent": 204,
    "list_guardrails": 200,
    "create_guardrail": 201,
    "get_guardrail": 200,
    "patch_guardrail": 200,
    "delete_guardrail": 204,
    "list_tools": 200,
    "create_tool": 201,
    "get_tool": 200,
    "patch_tool": 200,
    "delete_tool": 204,
    "list_evals": 200,
    "create_eval": 201,
    "get_eval": 200,
    "patch_eval": 200,
    "delete_eval": 204,
    "list_versions": 200,
    "get_version": 200,
    "list_conversations": 200,
    "get_conversation": 200,
    "list_audit_events": 200,
    "list_drafts": 200,
    "create_draft": 201,
    "get_draft": 200,
    "patch_draft": 200,
    "delete_draft": 204,
}


def load(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return event


def test_every_route_of_the_function_has_one_event_file() -> None:
    function = load_template(TEMPLATE).functions["AgentsFunction"]
    routes = {route.key for route in function.routes}
    files = {path.stem: load(path.stem)["routeKey"] for path in EVENTS.glob("*.json")}
    assert sorted(files.values()) == sorted(routes)
    assert set(files) == set(EXPECTED)


@pytest.fixture
def demo_workspace(owner_sql: Conn) -> uuid.UUID:
    """The events' workspace, with the rows their fixed ids name (as a demo would hold)."""
    event = load("get_agent")
    workspace = uuid.UUID(event["requestContext"]["authorizer"]["lambda"]["workspace_id"])
    owner_sql.execute("DELETE FROM workspaces WHERE id = %s", (workspace,))
    owner_sql.execute("INSERT INTO workspaces (id, name) VALUES (%s, 'Demo')", (workspace,))
    owner_sql.execute(
        "INSERT INTO workspace_secrets (workspace_id, name, value_ciphertext, allowed_hosts)"
        " VALUES (%s, 'CRM_API_KEY', 'not-read-here', '{api.example.com}')",
        (workspace,),
    )
    return workspace


def run_like_lambda(handler: Any, event: dict[str, Any], context: LambdaContext) -> Any:
    """Invoke on a thread of its own with its own event loop, as the Lambda runtime's main
    thread has one (Mangum needs it); the test thread's loop is left alone."""

    def run() -> Any:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            return handler(event, context)
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def test_each_event_file_is_answered_as_expected(
    owner_sql: Conn, demo_workspace: uuid.UUID
) -> None:
    function = load_template(TEMPLATE).functions["AgentsFunction"]
    handler = load_handler(function)

    def invoke(name: str) -> dict[str, Any]:
        result: dict[str, Any] = run_like_lambda(handler, load(name), LambdaContext(function))
        assert result["headers"]["x-request-id"]
        return result

    assert invoke("create_agent")["statusCode"] == 201
    agent = owner_sql.execute(
        "SELECT id FROM ai_agents WHERE workspace_id = %s", (demo_workspace,)
    ).fetchone()
    assert agent is not None
    # Give the sub-resources the fixed ids the event files use
    ids = {p: load(f"get_{p}")["pathParameters"]["id"] for p in ("guardrail", "tool", "eval")}
    for name in ("create_tool", "create_eval"):
        assert invoke(name)["statusCode"] == 201, name
    owner_sql.execute(
        "UPDATE ai_agent_guardrails SET id = %s WHERE agent_id = %s AND kind = 'ESCALATE'",
        (ids["guardrail"], agent["id"]),
    )
    owner_sql.execute(
        "UPDATE ai_agent_tools SET id = %s WHERE agent_id = %s", (ids["tool"], agent["id"])
    )
    owner_sql.execute(
        "UPDATE ai_agent_evals SET id = %s WHERE agent_id = %s", (ids["eval"], agent["id"])
    )
    seed_history(
        owner_sql, demo_workspace, agent["id"], load("get_conversation")["pathParameters"]["id"]
    )
    owner_sql.execute(
        "INSERT INTO ai_agent_drafts (id, workspace_id) VALUES (%s, %s)",
        (load("get_draft")["pathParameters"]["id"], demo_workspace),
    )
    owner_sql.execute(
        "DELETE FROM ai_agent_guardrails WHERE agent_id = %s AND kind = 'LIMIT'", (agent["id"],)
    )
    # Deletions last, the agent's own at the very end
    order = sorted(
        (n for n in EXPECTED if not n.startswith(("create_tool", "create_eval", "create_agent"))),
        key=lambda n: (n == "delete_agent", n.startswith("delete_")),
    )
    for name in order:
        result = invoke(name)
        assert result["statusCode"] == EXPECTED[name], (name, result.get("body"))
