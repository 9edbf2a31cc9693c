"""Evals and wizard drafts through the gateway emulation: CRUD, validation, audit."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.support.agents import (
    EVAL,
    SLUG,
    Conn,
    Token,
    count,
    create_agent,
    created,
    error_locs,
    problem_of,
    table_counts,
)
from tests.support.api_client import ApiClient

EVALS = f"/v1/ai-agents/{SLUG}/evals"
DRAFTS = "/v1/ai-agent-drafts"

# --- evals ----------------------------------------------------------------------------


def test_eval_crud_with_audit(
    api: ApiClient, workspace: uuid.UUID, token: Token, owner_sql: Conn
) -> None:
    editor = token(workspace, "editor")
    create_agent(api, editor)
    first = created(api.post(EVALS, token=editor, json=EVAL))
    assert first["assertions"] == EVAL["assertions"] and first["input"] == "hello"
    second = created(api.post(EVALS, token=editor, json={**EVAL, "name": "refuses"}))
    listed = api.get(EVALS, token=token(workspace, "viewer")).json()["items"]
    assert [e["id"] for e in listed] == [first["id"], second["id"]]
    patched = api.patch(
        f"{EVALS}/{first['id']}",
        token=editor,
        json={"assertions": [{"type": "llm_rubric", "value": "Is polite"}]},
    )
    assert patched.status == 200, patched.text
    assert patched.json()["assertions"] == [{"type": "llm_rubric", "value": "Is polite"}]
    assert patched.json()["name"] == "greets"
    assert api.delete(f"{EVALS}/{second['id']}", token=editor).status == 204
    assert [e["id"] for e in api.get(EVALS, token=editor).json()["items"]] == [first["id"]]
    events = owner_sql.execute(
        "SELECT action, before_state, after_state FROM ai_agent_audit_events"
        " WHERE workspace_id = %s AND resource_type = 'eval' ORDER BY occurred_at",
        (workspace,),
    ).fetchall()
    assert [e["action"] for e in events] == [
        "eval.created",
        "eval.created",
        "eval.updated",
        "eval.deleted",
    ]
    assert events[2]["before_state"]["assertions"] == EVAL["assertions"]
    assert events[2]["after_state"]["assertions"][0]["type"] == "llm_rubric"


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({**EVAL, "name": ""}, ["body", "name"]),
        ({**EVAL, "input": ""}, ["body", "input"]),
        ({**EVAL, "assertions": []}, ["body", "assertions"]),
        ({**EVAL, "assertions": [{"type": "equals", "value": "x"}] * 51}, ["body", "assertions"]),
        (
            {**EVAL, "assertions": [{"type": "similar", "value": "x"}]},
            ["body", "assertions", 0, "type"],
        ),
        (
            {**EVAL, "assertions": [{"type": "contains", "value": ""}]},
            ["body", "assertions", 0, "value"],
        ),
        ({**EVAL, "assertions": [{"type": "contains"}]}, ["body", "assertions", 0, "value"]),
        (
            {**EVAL, "assertions": [{"type": "equals", "value": "a", "weight": 2}]},
            ["body", "assertions", 0, "weight"],
        ),
        (
            {
                **EVAL,
                "assertions": [
                    {"type": "equals", "value": "ok"},
                    {"type": "regex", "value": "(unclosed"},
                ],
            },
            ["body", "assertions", 1, "value"],
        ),
        ({"name": "n", "assertions": EVAL["assertions"]}, ["body", "input"]),
        ({**EVAL, "expected": "x"}, ["body", "expected"]),
    ],
)
def test_eval_bodies_are_validated(
    api: ApiClient,
    workspace: uuid.UUID,
    token: Token,
    owner_sql: Conn,
    body: Any,
    loc: list[Any],
) -> None:
    editor = token(workspace, "editor")
    create_agent(api, editor)
    before = table_counts(owner_sql)
    locs = error_locs(problem_of(api.post(EVALS, token=editor, json=body), 422, "validation"))
    assert loc in locs, locs
    assert table_counts(owner_sql) == before


def test_invalid_regex_on_patch_names_the_assertion(
    api: ApiClient, workspace: uuid.UUID, token: Token
) -> None:
    editor = token(workspace, "editor")
    create_agent(api, editor)
    evaluation = created(api.post(EVALS, token=editor, json=EVAL))
    response = api.patch(
        f"{EVALS}/{evaluation['id']}",
        token=editor,
        json={
            "assertions": [
                {"type": "contains", "value": "a"},
                {"type": "contains", "value": "b"},
                {"type": "regex", "value": "[z-a]"},
            ]
        },
    )
    problem = problem_of(response, 422, "validation")
    assert ["body", "assertions", 2, "value"] in error_locs(problem)
    assert "regex" in problem["errors"][0]["msg"]
    problem_of(
        api.patch(f"{EVALS}/{evaluation['id']}", token=editor, json={"name": None}),
        422,
        "validation",
    )
    problem_of(
        api.patch(f"{EVALS}/{uuid.uuid4()}", token=editor, json={"name": "x"}), 404, "not-found"
    )


@pytest.mark.parametrize(
    "pattern", ["(?:x{2000}){2000}", "(?:x{65535}){65535}", "(?:(?:x{100}){100}){100}"]
)
def test_a_regex_that_would_compile_into_too_much_is_refused_on_its_value(
    api: ApiClient, workspace: uuid.UUID, token: Token, owner_sql: Conn, pattern: str
) -> None:
    """`regex` has no timeout for compiling: `(?:x{2000}){2000}` took 1 GB and seconds in the
    publish gate, which runs 20 evals at once. Such a pattern is never stored."""
    editor = token(workspace, "editor")
    create_agent(api, editor)
    before = table_counts(owner_sql)
    body = {
        **EVAL,
        "assertions": [{"type": "contains", "value": "a"}, {"type": "regex", "value": pattern}],
    }
    problem = problem_of(api.post(EVALS, token=editor, json=body), 422, "validation")
    assert error_locs(problem) == [["body", "assertions", 1, "value"]]
    assert "too large" in problem["errors"][0]["msg"]
    assert table_counts(owner_sql) == before
    evaluation = created(api.post(EVALS, token=editor, json=EVAL))
    patch = api.patch(f"{EVALS}/{evaluation['id']}", token=editor, json=body)
    assert error_locs(problem_of(patch, 422, "validation")) == [["body", "assertions", 1, "value"]]
    stored = api.get(f"{EVALS}/{evaluation['id']}", token=editor).json()
    assert stored["assertions"] == EVAL["assertions"]


# --- drafts ---------------------------------------------------------------------------


def test_draft_crud_newest_first_with_audit(
    api: ApiClient, workspace: uuid.UUID, token: Token, owner_sql: Conn
) -> None:
    editor = token(workspace, "editor", sub="wizard-user")
    older = created(api.post(DRAFTS, token=editor, json={"data": {"step": 1, "name": "A"}}))
    assert older["created_by"] == "wizard-user" and older["data"] == {"step": 1, "name": "A"}
    newer = created(api.post(DRAFTS, token=editor, json={"data": {"step": 1}}))
    assert [d["id"] for d in api.get(DRAFTS, token=editor).json()["items"]] == [
        newer["id"],
        older["id"],
    ]
    saved = api.patch(f"{DRAFTS}/{older['id']}", token=editor, json={"data": {"step": 2}})
    assert saved.status == 200 and saved.json()["data"] == {"step": 2}
    assert saved.json()["updated_at"] > older["updated_at"]
    assert saved.json()["created_at"] == older["created_at"]
    # saving moves a draft to the top
    assert [d["id"] for d in api.get(DRAFTS, token=editor).json()["items"]] == [
        older["id"],
        newer["id"],
    ]
    assert api.get(f"{DRAFTS}/{older['id']}", token=editor).json()["data"] == {"step": 2}
    assert api.delete(f"{DRAFTS}/{newer['id']}", token=editor).status == 204
    problem_of(api.get(f"{DRAFTS}/{newer['id']}", token=editor), 404, "not-found")
    problem_of(api.delete(f"{DRAFTS}/{newer['id']}", token=editor), 404, "not-found")
    logged = owner_sql.execute(
        "SELECT action, resource_id, actor_id FROM audit_log WHERE workspace_id = %s"
        " AND resource_type = 'agent_draft' ORDER BY occurred_at",
        (workspace,),
    ).fetchall()
    assert [r["action"] for r in logged] == [
        "draft.created",
        "draft.created",
        "draft.updated",
        "draft.deleted",
    ]
    assert {r["actor_id"] for r in logged} == {"wizard-user"}
    # drafts belong to no agent: they are audited in audit_log only
    assert (
        count(
            owner_sql,
            "SELECT count(*) FROM ai_agent_audit_events WHERE workspace_id = %s",
            workspace,
        )
        == 0
    )


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 422),
        ({"data": None}, 422),
        ({"data": [1, 2]}, 422),
        ({"data": "text"}, 422),
        ({"data": {}, "name": "x"}, 422),
        ({"data": {"blob": "x" * (256 * 1024)}}, 413),
    ],
)
def test_draft_bodies_are_validated(
    api: ApiClient, workspace: uuid.UUID, token: Token, owner_sql: Conn, body: Any, status: int
) -> None:
    editor = token(workspace, "editor")
    before = table_counts(owner_sql)
    response = api.post(DRAFTS, token=editor, json=body)
    problem_of(response, status, "validation" if status == 422 else "payload-too-large")
    assert table_counts(owner_sql) == before
    draft = created(api.post(DRAFTS, token=editor, json={"data": {"ok": True}}))
    before = table_counts(owner_sql)
    patched = api.patch(f"{DRAFTS}/{draft['id']}", token=editor, json=body)
    problem_of(patched, status, "validation" if status == 422 else "payload-too-large")
    assert table_counts(owner_sql) == before


def test_drafts_are_for_editors(api: ApiClient, workspace: uuid.UUID, token: Token) -> None:
    viewer = token(workspace, "viewer")
    problem_of(api.get(DRAFTS, token=viewer), 403, "forbidden")
    problem_of(api.get(f"{DRAFTS}/not-a-uuid", token=token(workspace, "editor")), 422, "validation")
