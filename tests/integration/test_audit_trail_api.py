"""The audit trail as a compliance reviewer uses it, over the API: what happened to agent X
(also after its deletion) in one call, blocked publishes, request ids, chain verification."""

from __future__ import annotations

import uuid
from typing import Any

from tests.support.agents import EVAL, SLUG, TOOL, Conn, Token, create_agent, created, problem_of
from tests.support.api_client import ApiClient
from tests.support.publishing import BASE, add_eval, publish, set_threshold


def test_one_call_answers_what_happened_to_a_deleted_agent(
    api: ApiClient, token: Token, workspace: uuid.UUID
) -> None:
    editor, admin = token(workspace, "editor", sub="ed-1"), token(workspace, "admin")
    agent = create_agent(api, editor, slug=SLUG)
    tool = created(api.post(f"{BASE}/tools", token=editor, json=TOOL))
    changed = api.patch(f"{BASE}/tools/{tool['id']}", token=editor, json={"description": "v2"})
    assert changed.status == 200
    created(api.post(f"{BASE}/evals", token=editor, json=EVAL))
    guardrail = f"{BASE}/guardrails/{agent['guardrails'][1]['id']}"
    assert api.patch(guardrail, token=editor, json={"enabled": False}).status == 200
    create_agent(api, editor, slug="other-bot")  # another agent's rows must not show
    assert api.post("/v1/secrets", token=admin, json={"name": "K", "value": "v"}).status == 201
    assert api.delete(BASE, token=editor).status == 204
    assert api.get(f"{BASE}/audit-events", token=editor).status == 404  # the feed is gone...

    by_slug = api.get(f"/v1/audit-log?agent_slug={SLUG}", token=admin)  # ...the log is not
    assert by_slug.status == 200, by_slug.text
    actions = [e["action"] for e in by_slug.json()["items"]]
    assert actions == [
        "agent.deleted",
        "guardrail.updated",
        "eval.created",
        "tool.updated",
        "tool.created",
        "agent.created",
    ]
    items = by_slug.json()["items"]
    assert {(e["agent_id"], e["agent_slug"]) for e in items} == {(agent["id"], SLUG)}
    assert all(e["actor_id"] == "ed-1" and e["seq"] >= 1 and len(e["hash"]) == 64 for e in items)
    by_id = api.get(f"/v1/audit-log?agent_id={agent['id']}", token=admin).json()["items"]
    assert [e["id"] for e in by_id] == [e["id"] for e in items]
    workspace_rows = api.get("/v1/audit-log?action=secret.created", token=admin).json()["items"]
    assert [(e["agent_id"], e["agent_slug"]) for e in workspace_rows] == [(None, None)]
    problem_of(api.get("/v1/audit-log?agent_id=not-a-uuid", token=admin), 422, "validation")
    problem_of(api.get(f"/v1/audit-log?agent_slug={'x' * 64}", token=admin), 422, "validation")


def test_agent_feed_speaks_the_log_vocabulary(
    api: ApiClient, token: Token, workspace: uuid.UUID
) -> None:
    editor = token(workspace, "editor")
    agent = create_agent(api, editor, slug=SLUG)
    event = api.get(f"{BASE}/audit-events", token=editor).json()["items"][0]
    assert event["resource_type"] == "agent" and event["resource_id"] == agent["id"]
    assert (event["agent_id"], event["agent_slug"]) == (agent["id"], SLUG)
    assert "target_type" not in event and "target_id" not in event


def test_a_blocked_publish_is_audited_in_both_feeds(
    api: ApiClient, token: Token, workspace: uuid.UUID, fake_llm: Any, owner_sql: Conn
) -> None:
    editor, admin = token(workspace, "editor"), token(workspace, "admin")
    agent = create_agent(api, editor, slug=SLUG)
    set_threshold(api, admin, 0.9)
    passing = add_eval(api, editor, "ok", "hi", ("contains", "hi"))
    failing = add_eval(api, editor, "strict", "hi", ("llm_rubric", "ALWAYS_FAIL"))
    problem_of(publish(api, editor), 422, "eval-gate-failed")

    event = api.get(f"{BASE}/audit-events?limit=1", token=editor).json()["items"][0]
    log = api.get("/v1/audit-log?action=agent.publish_blocked", token=admin).json()["items"]
    assert event["action"] == "agent.publish_blocked" and len(log) == 1
    for row in (event, log[0]):
        assert (row["agent_id"], row["agent_slug"], row["resource_id"]) == (
            agent["id"],
            SLUG,
            agent["id"],
        )
        assert row["after_state"] == {
            "pass_rate": 0.5,
            "threshold": 0.9,
            "failed_eval_ids": [failing],
        }
    assert passing not in log[0]["after_state"]["failed_eval_ids"]
    assert api.get("/v1/audit-log/verify", token=admin).json()["ok"] is True


def test_a_client_request_id_is_stored_only_when_it_is_a_short_safe_token(
    api: ApiClient, token: Token, workspace: uuid.UUID
) -> None:
    admin = token(workspace, "admin")
    for sent in ("ticket-42.a_b", "<script>alert(1)</script>", "x" * 500, "a b"):
        response = api.patch(
            "/v1/workspaces/agent-ops",
            token=admin,
            json={"rpm_cap_per_agent": 7},
            headers={"x-request-id": sent},
        )
        assert response.status == 200
        stored = api.get("/v1/audit-log?limit=1", token=admin).json()["items"][0]["request_id"]
        assert stored == response.headers["x-request-id"]
        assert (stored == sent) is (sent == "ticket-42.a_b")


def test_verify_route_is_for_admins_and_reports_the_chain(
    api: ApiClient, token: Token, workspace: uuid.UUID, owner_sql: Conn
) -> None:
    admin, editor = token(workspace, "admin"), token(workspace, "editor")
    empty = api.get("/v1/audit-log/verify", token=admin)
    assert empty.status == 200, empty.text
    assert empty.json() == {
        "ok": True,
        "rows": 0,
        "head": {"seq": 0, "hash": "0" * 64},
        "first_bad_seq": None,
        "checkpoint": None,
        "detail": None,
    }
    for n in range(3):
        api.patch("/v1/workspaces/agent-ops", token=admin, json={"rpm_cap_per_agent": n})
    body = api.get("/v1/audit-log/verify", token=admin).json()
    newest = api.get("/v1/audit-log?limit=1", token=admin).json()["items"][0]
    assert body["ok"] and body["rows"] == 3
    assert body["head"] == {"seq": 3, "hash": newest["hash"]}
    problem_of(api.get("/v1/audit-log/verify", token=editor), 403, "forbidden")
    owner_sql.execute(
        "UPDATE audit_log SET actor_id = 'nobody' WHERE workspace_id = %s AND seq = 2",
        (workspace,),
    )
    broken = api.get("/v1/audit-log/verify", token=admin).json()
    assert (broken["ok"], broken["first_bad_seq"]) == (False, 2)
