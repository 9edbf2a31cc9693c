"""Publishing through the gateway emulation, with the loopback test model."""

from __future__ import annotations

from typing import Any

from tests.api_client import ApiClient
from tests.integration.agents_support import SLUG, Conn, Token, create_agent, problem_of
from tests.integration.runtime_support import BASE, add_eval, publish, set_threshold


def test_threshold_zero_publishes_without_running_evals(
    api: ApiClient, token: Token, workspace: Any, fake_llm: Any
) -> None:
    editor = token(workspace, "editor")
    create_agent(api, editor, slug=SLUG, config={"system_prompt": "Be brief"})
    add_eval(api, editor, "greets", "hello", ("contains", "echo"))
    response = publish(api, editor, note="first")
    assert response.status == 201, response.text
    body = response.json()
    assert body["version"] == 1
    assert body["eval_pass_rate"] is None and body["eval_threshold"] == 0
    assert body["eval_results"] == [] and body["note"] == "first"
    assert body["config"]["system_prompt"] == "Be brief"
    assert fake_llm.requests == []  # the gate is off: no model call


def test_gate_passes_and_stores_results(
    api: ApiClient, token: Token, workspace: Any, fake_llm: Any, owner_sql: Conn
) -> None:
    editor, admin = token(workspace, "editor"), token(workspace, "admin")
    create_agent(api, editor, slug=SLUG)
    set_threshold(api, admin, 0.5)
    add_eval(api, editor, "echoes", "hello there", ("contains", "hello"), ("regex", "^echo:"))
    add_eval(api, editor, "graded", "be nice", ("llm_rubric", "The reply is polite"))
    add_eval(api, editor, "fails", "anything", ("equals", "something else"))
    response = publish(api, editor)
    assert response.status == 201, response.text
    body = response.json()
    assert body["version"] == 1
    assert body["eval_threshold"] == 0.5
    assert abs(body["eval_pass_rate"] - 2 / 3) < 1e-9
    results = {r["name"]: r for r in body["eval_results"]}
    assert results["echoes"]["passed"] and results["echoes"]["output"] == "echo: hello there"
    assert results["graded"]["passed"]
    assert results["graded"]["assertions"][0]["reason"] == "the reply meets the rubric"
    assert not results["fails"]["passed"]
    stored = api.get(f"{BASE}/versions/1", token=editor).json()
    assert stored["eval_results"] == body["eval_results"]
    agent = api.get(BASE, token=editor).json()
    assert agent["published_version"] == 1


def test_gate_failure_creates_no_version(
    api: ApiClient, token: Token, workspace: Any, fake_llm: Any, owner_sql: Conn
) -> None:
    editor, admin = token(workspace, "editor"), token(workspace, "admin")
    create_agent(api, editor, slug=SLUG)
    set_threshold(api, admin, 1.0)
    add_eval(api, editor, "ok", "hi", ("contains", "hi"))
    add_eval(api, editor, "strict", "hi", ("llm_rubric", "ALWAYS_FAIL"))
    add_eval(api, editor, "vague", "hi", ("llm_rubric", "GIBBERISH"))
    problem = problem_of(publish(api, editor), 422, "eval-gate-failed")
    assert problem["pass_rate"] == 1 / 3 and problem["threshold"] == 1.0
    by_name = {r["name"]: r for r in problem["eval_results"]}
    assert by_name["strict"]["assertions"][0]["reason"] == "the reply does not meet the rubric"
    assert by_name["vague"]["assertions"][0]["reason"] == "Hmm, hard to say."
    versions = owner_sql.execute(
        "SELECT count(*) AS n FROM ai_agent_versions WHERE workspace_id = %s", (workspace,)
    ).fetchone()
    assert versions is not None and versions["n"] == 0
    assert api.get(BASE, token=editor).json()["published_version"] is None


def test_no_evals_with_a_threshold_is_a_gate_failure(
    api: ApiClient, token: Token, workspace: Any, fake_llm: Any
) -> None:
    editor, admin = token(workspace, "editor"), token(workspace, "admin")
    create_agent(api, editor, slug=SLUG)
    set_threshold(api, admin, 0.1)
    problem = problem_of(publish(api, editor), 422, "eval-gate-failed")
    assert problem["pass_rate"] is None and problem["eval_results"] == []
