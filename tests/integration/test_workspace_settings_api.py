"""Every route of workspace_settings through the gateway emulation: auth, roles, validation."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from tests.support.api_client import ApiClient
from tests.support.database import assert_nowhere_in_database

Token = Callable[..., str]
Conn = psycopg.Connection[dict[str, Any]]


def problem_of(response: Any, status: int, slug: str) -> dict[str, Any]:
    assert response.status == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["type"] == f"/problems/{slug}" and body["status"] == status
    return body


# --- auth and roles -------------------------------------------------------------------


def test_missing_token_is_401_and_bad_token_is_403(
    api: ApiClient, workspace: uuid.UUID, token: Token
) -> None:
    assert api.get("/v1/workspaces/agent-ops").status == 401
    assert api.get("/v1/workspaces/agent-ops", raw_auth="Bearer garbage").status == 403
    expired = token(workspace, "owner", ttl_s=-5)
    assert api.get("/v1/workspaces/agent-ops", token=expired).status == 403


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", "/v1/workspaces/agent-ops", {"rpm_cap_per_agent": 5}),
        ("PATCH", "/v1/workspaces/agent-llm", {"model": "m"}),
        ("POST", "/v1/secrets", {"name": "A", "value": "v"}),
        ("PATCH", "/v1/secrets/A", {"allowed_hosts": ["api.example.com"]}),
        ("DELETE", "/v1/secrets/A", None),
        ("GET", "/v1/audit-log", None),
    ],
)
@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_admin_routes_refuse_lower_roles(
    api: ApiClient, workspace: uuid.UUID, token: Token, method: str, path: str, body: Any, role: str
) -> None:
    response = api.request(method, path, token=token(workspace, role), json=body)
    problem_of(response, 403, "forbidden")


def test_every_response_carries_a_request_id(
    api: ApiClient, workspace: uuid.UUID, token: Token
) -> None:
    response = api.get("/v1/workspaces/agent-ops", token=token(workspace, "viewer"))
    assert response.status == 200 and response.headers["x-request-id"]
    echoed = api.get(
        "/v1/workspaces/agent-ops",
        token=token(workspace, "viewer"),
        headers={"X-Request-Id": "client-chosen-42"},
    )
    assert echoed.headers["x-request-id"] == "client-chosen-42"
    missing = api.get("/v1/workspaces/nope", token=token(workspace, "viewer"))
    assert missing.status == 404


# --- agent-ops ------------------------------------------------------------------------


def test_agent_ops_defaults_then_update(
    api: ApiClient, workspace: uuid.UUID, token: Token, owner_sql: Conn
) -> None:
    viewer, admin = token(workspace, "viewer"), token(workspace, "admin", sub="admin-1")
    got = api.get("/v1/workspaces/agent-ops", token=viewer)
    assert got.status == 200
    assert got.json() == {
        "rpm_cap_per_agent": None,
        "eval_pass_threshold": 0.0,
        "effective": {"public_rpm_cap": 60, "playground_rpm_cap": None},
        "updated_at": None,
    }
    assert _count(owner_sql, "workspace_agent_ops", workspace) == 0  # GET never writes
    patched = api.patch(
        "/v1/workspaces/agent-ops",
        token=admin,
        json={"rpm_cap_per_agent": 30, "eval_pass_threshold": 0.75},
    )
    assert patched.status == 200, patched.text
    body = patched.json()
    assert body["rpm_cap_per_agent"] == 30 and body["eval_pass_threshold"] == 0.75
    assert body["effective"] == {"public_rpm_cap": 30, "playground_rpm_cap": 30}
    assert body["updated_at"].endswith(("Z", "+00:00"))
    zero = api.patch("/v1/workspaces/agent-ops", token=admin, json={"rpm_cap_per_agent": 0})
    assert zero.json()["effective"] == {"public_rpm_cap": 60, "playground_rpm_cap": None}
    assert zero.json()["eval_pass_threshold"] == 0.75  # untouched field kept
    audit = owner_sql.execute(
        "SELECT actor_id, before_state, after_state FROM audit_log WHERE workspace_id = %s"
        " AND action = 'workspace.agent_ops.updated' ORDER BY occurred_at",
        (workspace,),
    ).fetchall()
    assert [a["actor_id"] for a in audit] == ["admin-1", "admin-1"]
    assert audit[0]["before_state"] is None
    assert audit[1]["before_state"] == {"rpm_cap_per_agent": 30, "eval_pass_threshold": 0.75}
    assert audit[1]["after_state"] == {"rpm_cap_per_agent": 0, "eval_pass_threshold": 0.75}


@pytest.mark.parametrize(
    "body",
    [
        {"eval_pass_threshold": 1.5},
        {"eval_pass_threshold": -0.1},
        {"eval_pass_threshold": None},
        {"eval_pass_threshold": "high"},
        {"rpm_cap_per_agent": 100001},
        {"rpm_cap_per_agent": -1},
        {"rpm_cap_per_agent": 2.5},
        {"rpm_cap_per_agent": True},
        {"rpm_cap_per_agent": "10"},
        {"unknown": 1},
        {},
        [],
    ],
)
def test_agent_ops_rejects_bad_input_with_422_and_writes_nothing(
    api: ApiClient, workspace: uuid.UUID, token: Token, owner_sql: Conn, body: Any
) -> None:
    response = api.patch("/v1/workspaces/agent-ops", token=token(workspace, "admin"), json=body)
    problem = problem_of(response, 422, "validation")
    assert problem["errors"] and all({"loc", "msg"} <= set(e) for e in problem["errors"])
    assert _count(owner_sql, "workspace_agent_ops", workspace) == 0
    assert _count(owner_sql, "audit_log", workspace) == 0


def test_malformed_json_is_422_not_500(api: ApiClient, workspace: uuid.UUID, token: Token) -> None:
    response = api.request(
        "PATCH",
        "/v1/workspaces/agent-ops",
        token=token(workspace, "admin"),
        data=b'{"eval_pass_threshold": ',
        content_type="application/json",
    )
    problem_of(response, 422, "validation")


def test_settings_of_a_workspace_that_does_not_exist_are_404(api: ApiClient, token: Token) -> None:
    ghost = token(uuid.uuid4(), "admin")
    assert api.get("/v1/workspaces/agent-ops", token=ghost).status == 200  # defaults, no leak
    response = api.patch("/v1/workspaces/agent-ops", token=ghost, json={"rpm_cap_per_agent": 1})
    problem_of(response, 404, "not-found")


# --- agent-llm (BYOK) -----------------------------------------------------------------

API_KEY = "sk-test-abcdefghijklmnop-WXYZ"


def test_byok_key_is_write_only_and_encrypted(
    api: ApiClient, workspace: uuid.UUID, token: Token, owner_sql: Conn
) -> None:
    admin = token(workspace, "admin")
    response = api.patch(
        "/v1/workspaces/agent-llm",
        token=admin,
        json={"provider": "openai", "model": "gpt-4o-mini", "api_key": API_KEY},
    )
    assert response.status == 200, response.text
    body = response.json()
    assert body["api_key_set"] is True and body["api_key_hint"] == "...WXYZ"
    assert "api_key" not in body and API_KEY not in response.text
    got = api.get("/v1/workspaces/agent-llm", token=token(workspace, "viewer"))
    assert got.json()["provider"] == "openai" and API_KEY not in got.text
    assert_nowhere_in_database(owner_sql, API_KEY)
    cleared = api.patch("/v1/workspaces/agent-llm", token=admin, json={"api_key": None})
    assert cleared.json()["api_key_set"] is False and cleared.json()["api_key_hint"] is None
    assert cleared.json()["model"] == "gpt-4o-mini"
    audits = owner_sql.execute(
        "SELECT before_state, after_state FROM audit_log WHERE workspace_id = %s"
        " AND action = 'workspace.agent_llm.updated' ORDER BY occurred_at",
        (workspace,),
    ).fetchall()
    assert audits[0]["after_state"]["api_key_set"] is True
    assert audits[1]["before_state"]["api_key_hint"] == "...WXYZ"
    assert audits[1]["after_state"]["api_key_set"] is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"base_url": "http://llm.example.com/v1"}, "base_url"),
        ({"base_url": "https://localhost:8000/v1"}, "base_url"),
        ({"base_url": "https://10.1.2.3/v1"}, "base_url"),
        ({"base_url": "https://169.254.169.254/"}, "base_url"),
        ({"base_url": "https://user:pw@llm.example.com/"}, "base_url"),
        ({"provider": "openai_compatible"}, "base_url"),
        ({"provider": "bedrock", "api_key": "abc"}, "api_key"),
        ({"provider": "azure"}, "provider"),
        ({"api_key": ""}, "api_key"),
    ],
)
def test_agent_llm_rejects_unsafe_or_inconsistent_settings(
    api: ApiClient, workspace: uuid.UUID, token: Token, owner_sql: Conn, body: Any, field: str
) -> None:
    response = api.patch("/v1/workspaces/agent-llm", token=token(workspace, "admin"), json=body)
    problem = problem_of(response, 422, "validation")
    assert any(field in e["loc"] for e in problem["errors"]), problem
    assert _count(owner_sql, "workspace_llm_settings", workspace) == 0


def test_private_base_url_allowed_when_deployment_allows(
    api: ApiClient, workspace: uuid.UUID, token: Token, monkeypatch: pytest.MonkeyPatch
) -> None:
    from convoship.core.settings import reset_settings

    monkeypatch.setenv("CONVOSHIP_ALLOW_PRIVATE_NETWORK", "1")
    reset_settings()
    response = api.patch(
        "/v1/workspaces/agent-llm",
        token=token(workspace, "admin"),
        json={
            "provider": "openai_compatible",
            "base_url": "http://10.0.0.8:8000/v1",
            "model": "llama",
        },
    )
    assert response.status == 200, response.text


# --- secrets --------------------------------------------------------------------------


def test_secret_lifecycle(
    api: ApiClient, workspace: uuid.UUID, token: Token, owner_sql: Conn
) -> None:
    admin = token(workspace, "admin", sub="sec-admin")
    created = api.post("/v1/secrets", token=admin, json={"name": "CRM_KEY", "value": "v-111"})
    assert created.status == 201, created.text
    assert created.json()["name"] == "CRM_KEY" and created.json()["updated_by"] == "sec-admin"
    assert "v-111" not in created.text
    replaced = api.post("/v1/secrets", token=admin, json={"name": "CRM_KEY", "value": "v-222"})
    assert replaced.status == 200
    listed = api.get("/v1/secrets", token=token(workspace, "viewer"))
    assert [s["name"] for s in listed.json()["items"]] == ["CRM_KEY"]
    assert "v-222" not in listed.text and "value" not in listed.json()["items"][0]
    assert_nowhere_in_database(owner_sql, "v-111")
    assert_nowhere_in_database(owner_sql, "v-222")
    assert api.delete("/v1/secrets/CRM_KEY", token=admin).status == 204
    problem_of(api.delete("/v1/secrets/CRM_KEY", token=admin), 404, "not-found")
    actions = [
        r["action"]
        for r in owner_sql.execute(
            "SELECT action FROM audit_log WHERE workspace_id = %s ORDER BY occurred_at",
            (workspace,),
        )
    ]
    assert actions == ["secret.created", "secret.replaced", "secret.deleted"]


@pytest.mark.parametrize(
    "body",
    [
        {"name": "9starts_with_digit", "value": "v"},
        {"name": "has-dash", "value": "v"},
        {"name": "A" * 65, "value": "v"},
        {"name": "OK", "value": ""},
        {"name": "OK", "value": "x" * 8193},
        {"name": "OK"},
        {"value": "v"},
    ],
)
def test_secret_validation(
    api: ApiClient, workspace: uuid.UUID, token: Token, owner_sql: Conn, body: Any
) -> None:
    problem_of(
        api.post("/v1/secrets", token=token(workspace, "admin"), json=body), 422, "validation"
    )
    assert _count(owner_sql, "workspace_secrets", workspace) == 0


def test_secret_in_use_by_a_tool_cannot_be_deleted(
    api: ApiClient, workspace: uuid.UUID, token: Token, owner_sql: Conn
) -> None:
    from tests.support.seed import seed_graph

    seed_graph(owner_sql, workspace)  # a tool referencing {{secret:API_KEY}}
    response = api.delete("/v1/secrets/API_KEY", token=token(workspace, "admin"))
    body = problem_of(response, 409, "conflict")
    assert body["used_by"] == [{"agent": "bot", "tool": "lookup"}]
    assert _count(owner_sql, "workspace_secrets", workspace) == 1


def test_secrets_of_another_workspace_are_invisible(
    api: ApiClient, workspace: uuid.UUID, other_workspace: uuid.UUID, token: Token
) -> None:
    api.post("/v1/secrets", token=token(workspace, "admin"), json={"name": "MINE", "value": "v"})
    other = token(other_workspace, "admin")
    assert api.get("/v1/secrets", token=other).json()["items"] == []
    problem_of(api.delete("/v1/secrets/MINE", token=other), 404, "not-found")
    assert len(api.get("/v1/secrets", token=token(workspace, "viewer")).json()["items"]) == 1


# --- audit log ------------------------------------------------------------------------


def test_audit_log_search_filters_and_pages(
    api: ApiClient, workspace: uuid.UUID, other_workspace: uuid.UUID, token: Token
) -> None:
    admin = token(workspace, "admin", sub="auditor")
    for i in range(5):
        api.post("/v1/secrets", token=admin, json={"name": f"S{i}", "value": "v"})
    api.patch("/v1/workspaces/agent-ops", token=admin, json={"rpm_cap_per_agent": 9})
    api.post("/v1/secrets", token=token(other_workspace, "admin"), json={"name": "X", "value": "v"})

    everything = api.get("/v1/audit-log", token=admin).json()
    assert len(everything["items"]) == 6 and everything["next_cursor"] is None
    stamps = [e["occurred_at"] for e in everything["items"]]
    assert stamps == sorted(stamps, reverse=True)

    seen: list[str] = []
    cursor = None
    while True:
        query = "resource_type=secret&limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = api.get(f"/v1/audit-log?{query}", token=admin).json()
        seen += [e["resource_id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["S4", "S3", "S2", "S1", "S0"]

    by_action = api.get("/v1/audit-log?action=workspace.agent_ops.updated", token=admin).json()
    assert [e["actor_id"] for e in by_action["items"]] == ["auditor"]
    assert api.get("/v1/audit-log?actor_id=nobody", token=admin).json()["items"] == []
    future = api.get("/v1/audit-log?since=2999-01-01T00:00:00Z", token=admin).json()
    assert future["items"] == []
    until_past = api.get("/v1/audit-log?until=2000-01-01T00:00:00Z", token=admin).json()
    assert until_past["items"] == []


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=201", "limit=abc", "since=yesterday", "cursor=%%%%"]
)
def test_audit_log_bad_query_is_422(
    api: ApiClient, workspace: uuid.UUID, token: Token, query: str
) -> None:
    problem_of(
        api.get(f"/v1/audit-log?{query}", token=token(workspace, "admin")), 422, "validation"
    )


# --- helpers --------------------------------------------------------------------------


def _count(owner_sql: Conn, table: str, workspace: uuid.UUID) -> int:
    row = owner_sql.execute(
        f"SELECT count(*) AS n FROM {table} WHERE workspace_id = %s".encode(), (workspace,)
    ).fetchone()
    assert row is not None
    return int(row["n"])


def test_secret_used_by_an_auth_guardrail_cannot_be_deleted(
    api: ApiClient, workspace: uuid.UUID, token: Token
) -> None:
    admin = token(workspace, "admin")
    assert (
        api.post("/v1/secrets", token=admin, json={"name": "VISITOR", "value": "v" * 40}).status
        == 201
    )
    assert api.post("/v1/ai-agents", token=admin, json={"name": "Front desk"}).status == 201
    guardrails = api.get("/v1/ai-agents/front-desk/guardrails", token=admin).json()["items"]
    auth = next(g for g in guardrails if g["kind"] == "AUTH")
    patched = api.patch(
        f"/v1/ai-agents/front-desk/guardrails/{auth['id']}",
        token=admin,
        json={"config": {"visitor_token_secret": "{{secret:VISITOR}}"}},
    )
    assert patched.status == 200, patched.text
    body = problem_of(api.delete("/v1/secrets/VISITOR", token=admin), 409, "conflict")
    assert body["used_by"] == [{"agent": "front-desk", "guardrail": "AUTH"}]
