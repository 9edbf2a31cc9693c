"""Publishing through the gateway emulation, with the loopback test model."""

from __future__ import annotations

from typing import Any

import pytest
import regex
import regex._regex
from psycopg.types.json import Jsonb

from tests.support.agents import SLUG, Conn, Token, create_agent, problem_of
from tests.support.api_client import ApiClient
from tests.support.publishing import BASE, add_eval, publish, set_threshold


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


def test_evals_run_concurrently(
    api: ApiClient, token: Token, workspace: Any, fake_llm: Any, monkeypatch: Any
) -> None:
    editor, admin = token(workspace, "editor"), token(workspace, "admin")
    create_agent(api, editor, slug=SLUG)
    set_threshold(api, admin, 0.5)
    for i in range(20):
        add_eval(api, editor, f"case {i}", f"question {i}", ("contains", f"question {i}"))
    fake_llm.delay_s = 0.2
    response = publish(api, editor)
    assert response.status == 201, response.text
    assert response.json()["eval_pass_rate"] == 1.0
    assert fake_llm.max_in_flight >= 10  # the default concurrency


def test_provider_failure_during_the_gate_is_502_and_creates_nothing(
    api: ApiClient, token: Token, workspace: Any, fake_llm: Any, owner_sql: Conn
) -> None:
    editor, admin = token(workspace, "editor"), token(workspace, "admin")
    create_agent(api, editor, slug=SLUG)
    set_threshold(api, admin, 0.5)
    add_eval(api, editor, "ok", "hi", ("contains", "hi"))
    add_eval(api, editor, "boom", "fail:503", ("contains", "x"))
    problem_of(publish(api, editor), 502, "upstream-unavailable")
    row = owner_sql.execute(
        "SELECT count(*) AS n FROM ai_agent_versions WHERE workspace_id = %s", (workspace,)
    ).fetchone()
    assert row is not None and row["n"] == 0


def test_gate_without_a_model_is_503(api: ApiClient, token: Token, workspace: Any) -> None:
    editor, admin = token(workspace, "editor"), token(workspace, "admin")
    create_agent(api, editor, slug=SLUG)
    set_threshold(api, admin, 0.5)
    add_eval(api, editor, "ok", "hi", ("contains", "hi"))
    problem_of(publish(api, editor), 503, "llm-not-configured")


def test_a_runaway_regex_fails_its_eval_instead_of_hanging(
    api: ApiClient, token: Token, workspace: Any, fake_llm: Any
) -> None:
    editor, admin = token(workspace, "editor"), token(workspace, "admin")
    create_agent(api, editor, slug=SLUG)
    set_threshold(api, admin, 1.0)
    add_eval(api, editor, "runaway", "a" * 3000 + "!", ("regex", r"^echo: (a|a)*$"))
    problem = problem_of(publish(api, editor), 422, "eval-gate-failed")
    reason = problem["eval_results"][0]["assertions"][0]["reason"]
    assert reason == "the pattern took longer than 0.5 s and was stopped"


def test_a_stored_regex_over_the_size_bound_fails_its_assertion_uncompiled(
    api: ApiClient,
    token: Token,
    workspace: Any,
    fake_llm: Any,
    owner_sql: Conn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given an eval whose pattern was stored before patterns were bounded at save
    editor, admin = token(workspace, "editor"), token(workspace, "admin")
    create_agent(api, editor, slug=SLUG)
    set_threshold(api, admin, 0.5)
    saved = add_eval(api, editor, "big", "hello", ("regex", "^echo"), ("contains", "hello"))
    big = [{"type": "regex", "value": "(?:x{200}){200}"}, {"type": "contains", "value": "hello"}]
    owner_sql.execute(
        "UPDATE ai_agent_evals SET assertions = %s WHERE id = %s", (Jsonb(big), saved)
    )
    add_eval(api, editor, "fine", "hi", ("regex", "^echo: h"))
    compiled: list[str] = []
    real = regex._regex.compile
    monkeypatch.setattr(regex._regex, "compile", lambda p, *a: compiled.append(p) or real(p, *a))
    # When the gate runs it
    response = publish(api, editor)
    # Then that assertion fails with the reason, never compiled; the rest of the gate runs
    assert response.status == 201, response.text
    results = {r["name"]: r for r in response.json()["eval_results"]}
    first = results["big"]["assertions"][0]
    assert not first["passed"] and "too large" in first["reason"]
    assert results["big"]["assertions"][1]["passed"] and results["fine"]["passed"]
    assert "(?:x{200}){200}" not in compiled


def test_roles_workspaces_and_unknown_agents(
    api: ApiClient, token: Token, workspace: Any, other_workspace: Any, fake_llm: Any
) -> None:
    editor = token(workspace, "editor")
    create_agent(api, editor, slug=SLUG)
    problem_of(publish(api, token(workspace, "viewer")), 403, "forbidden")
    problem_of(publish(api, token(other_workspace, "owner")), 404, "not-found")
    problem_of(publish(api, editor, slug="no-such-agent"), 404, "not-found")
    problem_of(api.post(f"{BASE}/publish", token=editor, json={"note": 5}), 422, "validation")
    problem_of(api.post(f"{BASE}/publish", token=editor, json={"extra": 1}), 422, "validation")
    bare = api.post(f"{BASE}/publish", token=editor)  # no body at all is fine
    assert bare.status == 201, bare.text


def test_publish_is_audited_in_both_trails(
    api: ApiClient, token: Token, workspace: Any, fake_llm: Any, owner_sql: Conn
) -> None:
    editor = token(workspace, "editor", sub="user-42")
    created = create_agent(api, editor, slug=SLUG)
    assert publish(api, editor, note="go").status == 201
    events = api.get(f"{BASE}/audit-events", token=editor).json()["items"]
    assert events[0]["action"] == "agent.published" and events[0]["actor_id"] == "user-42"
    assert events[0]["after_state"]["version"] == 1
    row = owner_sql.execute(
        "SELECT resource_type, resource_id FROM audit_log WHERE workspace_id = %s"
        " AND action = 'agent.published'",
        (workspace,),
    ).fetchone()
    assert row == {"resource_type": "agent_version", "resource_id": "1"}
    assert created["published_version"] is None


def test_concurrent_publishes_number_versions_without_gaps(
    api: ApiClient, token: Token, workspace: Any, fake_llm: Any, owner_sql: Conn
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    editor = token(workspace, "editor")
    create_agent(api, editor, slug=SLUG)
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda i: publish(api, editor, note=str(i)).status, range(16)))
    assert statuses == [201] * 16
    rows = owner_sql.execute(
        "SELECT version FROM ai_agent_versions WHERE workspace_id = %s ORDER BY version",
        (workspace,),
    ).fetchall()
    assert [r["version"] for r in rows] == list(range(1, 17))
    assert api.get(BASE, token=editor).json()["published_version"] == 16
