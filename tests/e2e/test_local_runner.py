"""The local runner as a new user meets it: `convoship serve`, `workspace create`, curl-like
HTTP calls over a real socket, `convoship invoke` with every events/ file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from convoship_dev import services
from tests.support.local_runner import http, run_cli

ROOT = Path(__file__).resolve().parents[2]


def test_new_user_flow_over_http(served: str, cli_env: dict[str, str]) -> None:
    created = run_cli(cli_env, "workspace", "create", "Acme")
    assert created.returncode == 0, created.stderr
    workspace = json.loads(created.stdout)
    token = workspace["token"]

    status, headers, body = http("GET", f"{served}/v1/workspaces/agent-ops", token)
    assert status == 200 and body["effective"]["public_rpm_cap"] == 60
    assert headers["x-request-id"]

    status, headers, body = http(
        "PATCH", f"{served}/v1/workspaces/agent-ops", token, {"eval_pass_threshold": 1.5}
    )
    assert status == 422
    assert headers["content-type"].startswith("application/problem+json")
    assert body["type"] == "/problems/validation"
    assert body["errors"][0]["loc"] == ["body", "eval_pass_threshold"]

    assert http("GET", f"{served}/v1/workspaces/agent-ops")[0] == 401
    assert http("GET", f"{served}/v1/workspaces/agent-ops", "not-a-jwt")[0] == 403
    assert http("GET", f"{served}/v1/nothing-here", token)[0] == 404

    viewer = run_cli(cli_env, "token", "--workspace", workspace["workspace_id"], "--role", "viewer")
    assert viewer.returncode == 0
    status, _, body = http(
        "PATCH",
        f"{served}/v1/workspaces/agent-ops",
        viewer.stdout.strip(),
        {"eval_pass_threshold": 0.5},
    )
    assert status == 403 and body["type"] == "/problems/forbidden"


def test_serve_refuses_a_privileged_database_role(
    cli_env: dict[str, str], database: services.Database
) -> None:
    cli_env["DATABASE_URL"] = database.owner_admin_url  # a superuser
    result = run_cli(cli_env, "serve", "--port", "0")
    assert result.returncode != 0
    assert "refusing to serve" in result.stderr and "superuser" in result.stderr


EVENT_FILES = sorted(p.relative_to(ROOT) for p in (ROOT / "events").rglob("*.json"))


@pytest.mark.parametrize("event_file", EVENT_FILES, ids=str)
def test_invoke_works_with_every_event_file(cli_env: dict[str, str], event_file: Path) -> None:
    function = event_file.parts[1]
    result = run_cli(cli_env, "invoke", function, "--event", str(event_file))
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    if function == "authorizer":
        assert output["isAuthorized"] is (event_file.stem == "request")
    elif function == "purge_drafts":
        assert isinstance(output["purged"], int)
    elif function == "rotate_keys":
        assert output["finished"] is True and output["workspaces"] == 1
    elif function == "migrate":  # CloudFormation's side: the answer PUT to a loopback URL
        assert output["Status"] == "SUCCESS", output
        assert output["LogicalResourceId"] == "DatabaseSchema"
    elif function == "audit_checkpoint":
        assert isinstance(output["signed"], int) and isinstance(output["broken"], int)
    else:
        assert output["statusCode"] < 500, output
        assert output["headers"]["x-request-id"]


def test_agent_tool_and_secret_flow_over_http(served: str, cli_env: dict[str, str]) -> None:
    token = json.loads(run_cli(cli_env, "workspace", "create", "Flow").stdout)["token"]
    status, _, agent = http("POST", f"{served}/v1/ai-agents", token, {"name": "Order helper"})
    assert status == 201 and len(agent["guardrails"]) == 5 and agent["public_token"]
    tool = {
        "name": "order_status",
        "handler_kind": "http",
        "config": {
            "method": "GET",
            "url": "https://api.example.com/orders",
            "headers": {"Authorization": "Bearer {{secret:API_KEY}}"},
        },
        "input_schema": {"type": "object", "properties": {"id": {"type": "string"}}},
    }
    tools_url = f"{served}/v1/ai-agents/order-helper/tools"
    status, _, problem = http("POST", tools_url, token, tool)
    assert status == 422 and "API_KEY" in problem["detail"]
    assert (
        http("POST", f"{served}/v1/secrets", token, {"name": "API_KEY", "value": "sk-x"})[0] == 201
    )
    status, _, problem = http("POST", tools_url, token, tool)  # no host allowed yet
    assert status == 422 and "api.example.com" in problem["detail"]
    hosts = {"allowed_hosts": ["api.example.com"]}
    assert http("PATCH", f"{served}/v1/secrets/API_KEY", token, hosts)[0] == 200
    status, _, created = http("POST", tools_url, token, tool)
    assert status == 201
    status, _, _ = http(
        "PATCH", f"{tools_url}/{created['id']}", token, {"config": {"timeout_s": 20}}
    )
    assert status == 200

    _, _, events = http("GET", f"{served}/v1/ai-agents/order-helper/audit-events", token)
    update = next(e for e in events["items"] if e["action"] == "tool.updated")
    assert update["before_state"]["config"]["timeout_s"] == 10
    assert update["after_state"]["config"]["timeout_s"] == 20
    assert update["after_state"]["handler_kind"] == "http"
    _, _, log = http("GET", f"{served}/v1/audit-log?resource_type=tool", token)
    assert [e["action"] for e in log["items"]] == ["tool.updated", "tool.created"]
    status, _, conflict = http("DELETE", f"{served}/v1/secrets/API_KEY", token)
    assert status == 409 and conflict["used_by"] == [
        {"agent": "order-helper", "tool": "order_status"}
    ]


def test_chat_and_publish_flow_over_http(served: str, cli_env: dict[str, str]) -> None:
    """The offline echo model the local stack starts: playground, gate, embed, transcript."""
    token = json.loads(run_cli(cli_env, "workspace", "create", "Chat flow").stdout)["token"]
    status, _, agent = http("POST", f"{served}/v1/ai-agents", token, {"name": "Helper"})
    assert status == 201
    base = f"{served}/v1/ai-agents/helper"
    status, _, turn = http("POST", f"{base}/playground/chat", token, {"message": "hello"})
    assert status == 200 and turn["reply"] == "echo: hello", turn
    status, _, _ = http("GET", f"{served}/v1/embed/{agent['public_token']}")
    assert status == 404  # not published yet
    http("PATCH", f"{served}/v1/workspaces/agent-ops", token, {"eval_pass_threshold": 1})
    evaluation = {
        "name": "echoes",
        "input": "ping",
        "assertions": [
            {"type": "contains", "value": "ping"},
            {"type": "llm_rubric", "value": "polite"},
        ],
    }
    assert http("POST", f"{base}/evals", token, evaluation)[0] == 201
    status, _, version = http("POST", f"{base}/publish", token, {"note": "first"})
    assert status == 201 and version["version"] == 1 and version["eval_pass_rate"] == 1.0
    embed = f"{served}/v1/embed/{agent['public_token']}/chat"
    status, headers, reply = http("POST", embed, None, {"message": "my email is a@b.example"})
    assert status == 200 and headers["x-ratelimit-limit"] == "60", reply
    status, _, conversation = http("GET", f"{base}/conversations/{reply['conversation_id']}", token)
    assert status == 200 and conversation["channel"] == "embed"
    assert conversation["messages"][0]["content"] == "my email is [EMAIL]"


def test_audit_verify_command_walks_every_chain(
    cli_env: dict[str, str], owner_sql: Any, make_workspace: Any
) -> None:
    intact, broken = make_workspace("Intact"), make_workspace("Broken")
    for workspace in (intact, broken):
        for n in range(3):
            owner_sql.execute(
                "INSERT INTO audit_log (workspace_id, actor_type, actor_id, action,"
                " resource_type) VALUES (%s, 'user', 'u', %s, 'x')",
                (workspace, f"a.{n}"),
            )
    result = run_cli(cli_env, "audit", "verify", "--workspace", str(intact))
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stdout)
    assert line["ok"] and line["rows"] == 3 and line["workspace_id"] == str(intact)
    owner_sql.execute(
        "UPDATE audit_log SET action = 'rewritten' WHERE workspace_id = %s AND seq = 2",
        (broken,),
    )
    everything = run_cli(cli_env, "audit", "verify")
    assert everything.returncode == 1
    by_workspace = {r["workspace_id"]: r for r in map(json.loads, everything.stdout.splitlines())}
    assert by_workspace[str(intact)]["ok"] is True
    assert by_workspace[str(broken)]["first_bad_seq"] == 2
    assert run_cli(cli_env, "audit", "verify", "--workspace", "nope").returncode != 0
