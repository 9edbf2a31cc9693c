"""Agents through the gateway emulation: create with default guardrails, read, update,
delete, slugs, conflicts (also concurrent), roles, validation, reads that never write."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest

from tests.support.agents import (
    GUARDRAIL_KINDS,
    SLUG,
    Conn,
    Token,
    count,
    create_agent,
    error_locs,
    populate,
    problem_of,
    table_counts,
)
from tests.support.api_client import ApiClient, ApiResponse

# --- create ---------------------------------------------------------------------------


def test_creating_an_agent_seeds_exactly_the_five_default_guardrails(
    api: ApiClient, workspace: uuid.UUID, token: Token, owner_sql: Conn
) -> None:
    # Given an editor, when they create an agent
    agent = create_agent(api, token(workspace, "editor", sub="ed-1"), description="Helps")

    # Then the response holds the agent, its token and the five guardrails, all enabled
    assert agent["slug"] == SLUG and agent["name"] == "Support Bot"
    assert agent["description"] == "Helps" and agent["created_by"] == "ed-1"
    assert agent["published_version"] is None
    assert agent["config"] == {
        "system_prompt": "",
        "greeting": None,
        "model": None,
        "temperature": 0.7,
        "max_output_tokens": 1024,
    }
    by_kind = {g["kind"]: g for g in agent["guardrails"]}
    assert [g["kind"] for g in agent["guardrails"]] == GUARDRAIL_KINDS
    assert all(g["enabled"] for g in agent["guardrails"])
    assert by_kind["AUTH"]["config"] == {"allowed_origins": ["*"], "visitor_token_secret": None}
    assert by_kind["LIMIT"]["config"] == {
        "max_input_chars": 4000,
        "max_turns_per_conversation": 50,
        "max_tool_calls_per_turn": 5,
    }
    assert by_kind["REDACT"]["config"] == {
        "entities": ["EMAIL", "PHONE", "CREDIT_CARD", "US_SSN", "IBAN", "IP_ADDRESS", "CREDENTIAL"]
    }
    assert by_kind["ESCALATE"]["config"]["keywords"] == ["human", "agent", "representative"]
    assert by_kind["ESCALATE"]["config"]["message"].strip()
    assert by_kind["BUDGET"]["config"] == {
        "max_tokens_per_conversation": 20000,
        "max_tokens_per_day": 1000000,
    }
    # And the database holds exactly those five rows for the agent, one per kind
    rows = owner_sql.execute(
        "SELECT kind FROM ai_agent_guardrails WHERE agent_id = %s ORDER BY kind", (agent["id"],)
    ).fetchall()
    assert sorted(r["kind"] for r in rows) == sorted(GUARDRAIL_KINDS)
    assert (
        count(
            owner_sql, "SELECT count(*) FROM ai_agent_guardrails WHERE workspace_id = %s", workspace
        )
        == 5
    )
    # And the creation is audited in both trails
    events = owner_sql.execute(
        "SELECT action, actor_id FROM ai_agent_audit_events WHERE agent_id = %s", (agent["id"],)
    ).fetchall()
    assert events == [{"action": "agent.created", "actor_id": "ed-1"}]
    assert (
        count(
            owner_sql,
            "SELECT count(*) FROM audit_log WHERE workspace_id = %s AND action = 'agent.created'",
            workspace,
        )
        == 1
    )


def test_public_tokens_are_long_random_and_distinct(
    api: ApiClient, workspace: uuid.UUID, token: Token
) -> None:
    editor = token(workspace, "editor")
    tokens = {create_agent(api, editor, slug=f"bot-{i}")["public_token"] for i in range(5)}
    assert len(tokens) == 5
    assert all(len(t) >= 43 for t in tokens)  # 32 random bytes, url-safe base64


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Support Bot", "support-bot"),
        ("  Café   Support -- Bot!! ", "cafe-support-bot"),
        ("ACME_Returns 2", "acme-returns-2"),
        ("x" * 80, "x" * 63),
        ("a" * 62 + " b", "a" * 62),
    ],
)
def test_slug_is_derived_from_the_name_when_absent(
    api: ApiClient, workspace: uuid.UUID, token: Token, name: str, slug: str
) -> None:
    agent = create_agent(api, token(workspace, "editor"), name=name)
    assert agent["slug"] == slug
    got = api.get(f"/v1/ai-agents/{slug}", token=token(workspace, "viewer"))
    assert got.status == 200 and got.json()["id"] == agent["id"]


def test_a_name_without_a_usable_slug_asks_for_one(
    api: ApiClient, workspace: uuid.UUID, token: Token
) -> None:
    response = api.post("/v1/ai-agents", token=token(workspace, "editor"), json={"name": "!?"})
    assert ["body", "slug"] in error_locs(problem_of(response, 422, "validation"))


def test_slug_clash_is_409_within_a_workspace_only(
    api: ApiClient, workspace: uuid.UUID, other_workspace: uuid.UUID, token: Token, owner_sql: Conn
) -> None:
    create_agent(api, token(workspace, "editor"))
    before = table_counts(owner_sql)
    again = api.post(
        "/v1/ai-agents", token=token(workspace, "editor"), json={"name": "Other", "slug": SLUG}
    )
    problem = problem_of(again, 409, "conflict")
    assert SLUG in problem["detail"]
    assert table_counts(owner_sql) == before  # no orphan guardrails, no audit rows
    create_agent(api, token(other_workspace, "editor"))  # the same slug elsewhere is fine


def create_at_once(api: ApiClient, editor: str, slug: str) -> list[ApiResponse]:
    """Two identical creations released together by a barrier, each on its own thread."""
    barrier = threading.Barrier(2)
    results: list[ApiResponse] = []

    def create() -> None:
        barrier.wait()
        results.append(api.post("/v1/ai-agents", token=editor, json={"name": "R", "slug": slug}))

    threads = [threading.Thread(target=create) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_concurrent_creation_of_one_slug_gives_one_201_and_one_409(
    api: ApiClient, workspace: uuid.UUID, token: Token, owner_sql: Conn
) -> None:
    editor = token(workspace, "editor")
    for attempt in range(4):
        slug = f"race-{attempt}"
        results = create_at_once(api, editor, slug)
        assert sorted(r.status for r in results) == [201, 409], [r.text for r in results]
        assert (
            count(
                owner_sql,
                "SELECT count(*) FROM ai_agents WHERE workspace_id = %s AND slug = %s",
                workspace,
                slug,
            )
            == 1
        )
    assert (
        count(
            owner_sql, "SELECT count(*) FROM ai_agent_guardrails WHERE workspace_id = %s", workspace
        )
        == 4 * 5
    )


def test_create_in_a_workspace_that_does_not_exist_is_404(api: ApiClient, token: Token) -> None:
    response = api.post("/v1/ai-agents", token=token(uuid.uuid4(), "editor"), json={"name": "X1"})
    problem_of(response, 404, "not-found")


# --- read -----------------------------------------------------------------------------


def test_list_and_get(api: ApiClient, workspace: uuid.UUID, token: Token) -> None:
    editor, viewer = token(workspace, "editor"), token(workspace, "viewer")
    first = create_agent(api, editor, name="Zeta", slug="zeta")
    second = create_agent(api, editor, name="Alpha", slug="alpha")
    listed = api.get("/v1/ai-agents", token=viewer)
    assert listed.status == 200
    assert [a["slug"] for a in listed.json()["items"]] == ["alpha", "zeta"]
    got = api.get("/v1/ai-agents/zeta", token=viewer).json()
    assert got["id"] == first["id"] and got["public_token"] == first["public_token"]
    assert got["published_version"] is None and "guardrails" not in got
    assert second["id"] != first["id"]
    problem_of(api.get("/v1/ai-agents/nope", token=viewer), 404, "not-found")


def test_reads_never_write_a_row(
    api: ApiClient, workspace: uuid.UUID, token: Token, owner_sql: Conn
) -> None:
    populated = populate(api, owner_sql, workspace, token(workspace, "editor"))
    viewer = token(workspace, "viewer")
    base = f"/v1/ai-agents/{SLUG}"
    reads = [
        "/v1/ai-agents",
        base,
        f"{base}/guardrails",
        f"{base}/guardrails/{populated.guardrail_id}",
        f"{base}/tools",
        f"{base}/evals",
        f"{base}/versions",
        f"{base}/versions/1",
        f"{base}/conversations",
        f"{base}/conversations/{populated.conversation_id}",
        f"{base}/audit-events",
        "/v1/ai-agents/missing/guardrails",
    ]
    before = table_counts(owner_sql)
    for _ in range(5):
        for path in reads:
            assert api.get(path, token=viewer).status in (200, 404), path
    assert table_counts(owner_sql) == before


def test_a_get_never_seeds_missing_guardrails(
    api: ApiClient, workspace: uuid.UUID, token: Token, owner_sql: Conn
) -> None:
    # Given an agent that lost its guardrails (inserted bare, as an old row would be)
    owner_sql.execute(
        "INSERT INTO ai_agents (workspace_id, slug, name, public_token) VALUES (%s, 'bare', 'B',"
        " 'tok-bare-0123456789')",
        (workspace,),
    )
    viewer = token(workspace, "viewer")
    for _ in range(3):
        response = api.get("/v1/ai-agents/bare/guardrails", token=viewer)
        assert response.status == 200 and response.json() == {"items": []}
    assert api.get("/v1/ai-agents/bare", token=viewer).json()["config"] == {}
    assert (
        count(
            owner_sql, "SELECT count(*) FROM ai_agent_guardrails WHERE workspace_id = %s", workspace
        )
        == 0
    )


# --- update and delete ----------------------------------------------------------------


def test_patch_merges_config_and_audits_before_and_after(
    api: ApiClient, workspace: uuid.UUID, token: Token, owner_sql: Conn
) -> None:
    editor = token(workspace, "editor", sub="ed-2")
    create_agent(api, editor, config={"system_prompt": "Be kind.", "temperature": 1})
    response = api.patch(
        f"/v1/ai-agents/{SLUG}",
        token=editor,
        json={"config": {"temperature": 0.2, "greeting": "Hi"}, "name": "Bot 2"},
    )
    assert response.status == 200, response.text
    body = response.json()
    assert body["name"] == "Bot 2" and body["slug"] == SLUG
    assert body["config"]["system_prompt"] == "Be kind."
    assert body["config"]["temperature"] == 0.2 and body["config"]["greeting"] == "Hi"
    assert body["updated_at"] >= body["created_at"]
    cleared = api.patch(
        f"/v1/ai-agents/{SLUG}",
        token=editor,
        json={"description": None, "config": {"greeting": None}},
    )
    assert cleared.status == 200 and cleared.json()["config"]["greeting"] is None
    event = owner_sql.execute(
        "SELECT actor_id, before_state, after_state FROM ai_agent_audit_events"
        " WHERE workspace_id = %s AND action = 'agent.updated' ORDER BY occurred_at LIMIT 1",
        (workspace,),
    ).fetchone()
    assert event is not None and event["actor_id"] == "ed-2"
    assert event["before_state"]["name"] == "Support Bot"
    assert event["before_state"]["config"]["temperature"] == 1
    assert event["after_state"]["name"] == "Bot 2"
    assert event["after_state"]["config"]["temperature"] == 0.2
    assert (
        count(
            owner_sql,
            "SELECT count(*) FROM audit_log WHERE workspace_id = %s AND action = 'agent.updated'",
            workspace,
        )
        == 2
    )


def test_deleting_an_agent_keeps_its_audit_events(
    api: ApiClient, workspace: uuid.UUID, token: Token, owner_sql: Conn
) -> None:
    editor = token(workspace, "editor")
    populated = populate(api, owner_sql, workspace, editor)
    agent_id = populated.agent["id"]
    response = api.delete(f"/v1/ai-agents/{SLUG}", token=editor)
    assert response.status == 204 and response.body == b""
    problem_of(api.get(f"/v1/ai-agents/{SLUG}", token=editor), 404, "not-found")
    problem_of(api.delete(f"/v1/ai-agents/{SLUG}", token=editor), 404, "not-found")
    for table in (
        "ai_agent_guardrails",
        "ai_agent_tools",
        "ai_agent_evals",
        "ai_agent_versions",
        "ai_agent_conversations",
        "ai_agent_messages",
    ):
        assert (
            count(owner_sql, f"SELECT count(*) FROM {table} WHERE workspace_id = %s", workspace)
            == 0
        ), table
    actions = [
        r["action"]
        for r in owner_sql.execute(
            "SELECT action FROM ai_agent_audit_events WHERE agent_id = %s ORDER BY occurred_at",
            (agent_id,),
        )
    ]
    assert actions == ["agent.created", "tool.created", "eval.created", "agent.deleted"]
    logged = {
        r["action"]
        for r in owner_sql.execute(
            "SELECT action FROM audit_log WHERE workspace_id = %s", (workspace,)
        )
    }
    assert {"agent.created", "tool.created", "eval.created", "agent.deleted"} <= logged
    # The slug is free again, and the new agent starts with a clean history
    create_agent(api, editor)
    events = api.get(f"/v1/ai-agents/{SLUG}/audit-events", token=editor).json()["items"]
    assert [e["action"] for e in events] == ["agent.created"]


# --- roles and validation -------------------------------------------------------------

WRITES: list[tuple[str, str, Any]] = [
    ("POST", "/v1/ai-agents", {"name": "New"}),
    ("PATCH", f"/v1/ai-agents/{SLUG}", {"name": "Renamed"}),
    ("DELETE", f"/v1/ai-agents/{SLUG}", None),
    ("POST", f"/v1/ai-agents/{SLUG}/guardrails", {"kind": "LIMIT"}),
    ("PATCH", f"/v1/ai-agents/{SLUG}/guardrails/{{guardrail}}", {"enabled": False}),
    ("DELETE", f"/v1/ai-agents/{SLUG}/guardrails/{{guardrail}}", None),
    (
        "POST",
        f"/v1/ai-agents/{SLUG}/tools",
        {"name": "t2", "config": {"method": "GET", "url": "https://example.com"}},
    ),
    ("PATCH", f"/v1/ai-agents/{SLUG}/tools/{{tool}}", {"description": "x"}),
    ("DELETE", f"/v1/ai-agents/{SLUG}/tools/{{tool}}", None),
    (
        "POST",
        f"/v1/ai-agents/{SLUG}/evals",
        {"name": "e", "input": "i", "assertions": [{"type": "equals", "value": "v"}]},
    ),
    ("PATCH", f"/v1/ai-agents/{SLUG}/evals/{{eval}}", {"name": "e2"}),
    ("DELETE", f"/v1/ai-agents/{SLUG}/evals/{{eval}}", None),
    ("POST", "/v1/ai-agent-drafts", {"data": {}}),
    ("PATCH", "/v1/ai-agent-drafts/{draft}", {"data": {"x": 1}}),
    ("DELETE", "/v1/ai-agent-drafts/{draft}", None),
    ("GET", "/v1/ai-agent-drafts", None),
    ("GET", "/v1/ai-agent-drafts/{draft}", None),
]


def fill(path: str, ids: dict[str, str]) -> str:
    return (
        path.replace("{guardrail}", ids["guardrail"])
        .replace("{tool}", ids["tool"])
        .replace("{eval}", ids["eval"])
        .replace("{draft}", ids["draft"])
    )


def test_a_viewer_cannot_write(
    api: ApiClient, workspace: uuid.UUID, token: Token, owner_sql: Conn
) -> None:
    populated = populate(api, owner_sql, workspace, token(workspace, "editor"))
    ids = {
        "guardrail": populated.guardrail_id,
        "tool": populated.tool_id,
        "eval": populated.eval_id,
        "draft": populated.draft_id,
    }
    viewer = token(workspace, "viewer")
    before = table_counts(owner_sql)
    for method, path, body in WRITES:
        response = api.request(method, fill(path, ids), token=viewer, json=body)
        problem_of(response, 403, "forbidden")
    assert table_counts(owner_sql) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": 5}, "name"),
        ({"name": "Bot", "slug": "A-bot"}, "slug"),
        ({"name": "Bot", "slug": "-bot"}, "slug"),
        ({"name": "Bot", "slug": "b"}, "slug"),
        ({"name": "Bot", "slug": "b" * 64}, "slug"),
        ({"name": "Bot", "description": "d" * 2001}, "description"),
        ({"name": "Bot", "config": {"temperature": 2.5}}, "temperature"),
        ({"name": "Bot", "config": {"temperature": -0.1}}, "temperature"),
        ({"name": "Bot", "config": {"temperature": "hot"}}, "temperature"),
        ({"name": "Bot", "config": {"max_output_tokens": 0}}, "max_output_tokens"),
        ({"name": "Bot", "config": {"max_output_tokens": 32001}}, "max_output_tokens"),
        ({"name": "Bot", "config": {"max_output_tokens": 1.5}}, "max_output_tokens"),
        ({"name": "Bot", "config": {"max_output_tokens": True}}, "max_output_tokens"),
        ({"name": "Bot", "config": {"system_prompt": "p" * 20001}}, "system_prompt"),
        ({"name": "Bot", "config": {"greeting": "g" * 2001}}, "greeting"),
        ({"name": "Bot", "config": {"model": ""}}, "model"),
        ({"name": "Bot", "config": {"tone": "warm"}}, "tone"),
        ({"name": "Bot", "config": []}, "config"),
        ({"name": "Bot", "owner": "me"}, "owner"),
    ],
)
def test_create_rejects_bad_input_with_422_and_writes_nothing(
    api: ApiClient, workspace: uuid.UUID, token: Token, owner_sql: Conn, body: Any, field: str
) -> None:
    before = table_counts(owner_sql)
    response = api.post("/v1/ai-agents", token=token(workspace, "editor"), json=body)
    locs = error_locs(problem_of(response, 422, "validation"))
    assert any(field in loc for loc in locs), locs
    assert table_counts(owner_sql) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"name": None}, "name"),
        ({"name": ""}, "name"),
        ({"slug": "new-slug"}, "slug"),
        ({"config": None}, "config"),
        ({"config": {"temperature": 9}}, "temperature"),
        ({"config": {"bogus": 1}}, "bogus"),
        ({"config": {"max_output_tokens": "many"}}, "max_output_tokens"),
    ],
)
def test_patch_rejects_bad_input_with_422_and_changes_nothing(
    api: ApiClient, workspace: uuid.UUID, token: Token, owner_sql: Conn, body: Any, field: str
) -> None:
    editor = token(workspace, "editor")
    agent = create_agent(api, editor)
    before = table_counts(owner_sql)
    response = api.patch(f"/v1/ai-agents/{SLUG}", token=editor, json=body)
    locs = error_locs(problem_of(response, 422, "validation"))
    assert any(field in loc for loc in locs), locs
    assert table_counts(owner_sql) == before
    unchanged = api.get(f"/v1/ai-agents/{SLUG}", token=editor).json()
    assert unchanged["config"] == agent["config"] and unchanged["name"] == agent["name"]


def test_malformed_json_is_422(api: ApiClient, workspace: uuid.UUID, token: Token) -> None:
    response = api.request(
        "POST",
        "/v1/ai-agents",
        token=token(workspace, "editor"),
        data=b'{"name": ',
        content_type="application/json",
    )
    problem_of(response, 422, "validation")
