"""LIMIT and BUDGET hold under concurrency: turns and tokens are reserved before the model
call, settled with the real usage, released on every failure, and a reservation whose turn
died with its container lapses by itself."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from convoship.chat.reservation import estimate_input_tokens
from convoship.core import constants as env
from convoship.core.settings import reset_settings
from convoship.runtime.snapshot import AgentSnapshot
from tests.support.agents import SLUG, Conn, count, create_agent, created, problem_of
from tests.support.api_client import ApiClient, ApiResponse
from tests.support.chat import chat, transcript
from tests.support.http_servers import RecordingServer, Seen
from tests.support.published_agent import MAX_OUTPUT, SYSTEM_PROMPT
from tests.support.publishing import set_guardrail


@pytest.fixture
def agent(api: ApiClient, editor: str) -> dict[str, Any]:
    config = {"system_prompt": SYSTEM_PROMPT, "max_output_tokens": MAX_OUTPUT}
    return create_agent(api, editor, slug=SLUG, config=config)


def in_parallel(calls: list[Any], workers: int = 12) -> list[ApiResponse]:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda call: call(), calls))


def reservations(owner_sql: Conn, workspace: Any) -> int:
    return count(
        owner_sql,
        "SELECT count(*) FROM ai_agent_turn_reservations WHERE workspace_id = %s",
        workspace,
    )


def estimation_error(message: str, response: ApiResponse) -> int:
    """How far the turn's real usage went past what it reserved (0 when within)."""
    snapshot = AgentSnapshot.of({"system_prompt": SYSTEM_PROMPT}, [], [])
    usage = response.json()["usage"]
    over_input = usage["input_tokens"] - estimate_input_tokens(snapshot, [], message)
    return max(0, over_input) + max(0, usage["output_tokens"] - MAX_OUTPUT)


def test_parallel_turns_of_one_conversation_never_pass_the_turn_cap(
    api: ApiClient, editor: str, agent: Any, fake_llm: Any, owner_sql: Conn, workspace: Any
) -> None:
    set_guardrail(api, editor, "LIMIT", max_turns_per_conversation=2)
    conv = chat(api, editor, "start").json()["conversation_id"]
    fake_llm.delay_s = 0.05  # the model thinks while the others arrive
    responses = in_parallel([lambda i=i: chat(api, editor, f"m{i}", conv) for i in range(12)])
    statuses = sorted(r.status for r in responses)
    assert statuses == [200] + [422] * 11, statuses
    for refused in (r for r in responses if r.status == 422):
        problem = problem_of(refused, 422, "validation")
        assert problem["errors"][0]["loc"] == ["body", "conversation_id"]
    assert len(transcript(owner_sql, conv)) == 4
    turns = count(owner_sql, "SELECT turns FROM ai_agent_conversations WHERE id = %s", conv)
    assert turns == 2
    assert reservations(owner_sql, workspace) == 0


def test_parallel_turns_never_push_the_daily_total_past_the_budget(
    api: ApiClient, editor: str, agent: Any, fake_llm: Any, owner_sql: Conn, workspace: Any
) -> None:
    budget = 200
    set_guardrail(api, editor, "BUDGET", max_tokens_per_day=budget)
    fake_llm.delay_s = 0.05
    messages = [f"parallel turn number {i:02d} asks its question" for i in range(16)]
    responses = in_parallel([lambda m=m: chat(api, editor, m) for m in messages], workers=16)
    admitted = [(m, r) for m, r in zip(messages, responses, strict=True) if r.status == 200]
    refused = [r for r in responses if r.status != 200]
    assert admitted and refused, [r.status for r in responses]
    for response in refused:
        problem_of(response, 429, "budget-exceeded")
        assert int(response.headers["retry-after"]) >= 1
    spent = count(
        owner_sql, "SELECT tokens FROM ai_agent_usage_daily WHERE workspace_id = %s", workspace
    )
    assert spent == sum(sum(r.json()["usage"].values()) for _, r in admitted)
    error = sum(estimation_error(m, r) for m, r in admitted)
    assert error < budget // 4  # the estimate is close: the bound below means something
    assert spent <= budget + error, (spent, error)
    assert reservations(owner_sql, workspace) == 0


def test_parallel_turns_of_one_conversation_keep_its_token_budget(
    api: ApiClient, editor: str, agent: Any, fake_llm: Any, owner_sql: Conn
) -> None:
    first = chat(api, editor, "start").json()
    conv, used = first["conversation_id"], sum(first["usage"].values())
    history = [{"content": "start"}, {"content": "echo: start"}]
    snapshot = AgentSnapshot.of({"system_prompt": SYSTEM_PROMPT}, [], [])
    one_turn = estimate_input_tokens(snapshot, history, "m0") + MAX_OUTPUT
    # Room for one more turn as estimated, never for two.
    set_guardrail(api, editor, "BUDGET", max_tokens_per_conversation=used + one_turn + 10)
    fake_llm.delay_s = 0.05
    responses = in_parallel([lambda i=i: chat(api, editor, f"m{i}", conv) for i in range(10)])
    assert sorted(r.status for r in responses) == [200] + [429] * 9
    assert count(owner_sql, "SELECT turns FROM ai_agent_conversations WHERE id = %s", conv) == 2


def test_failed_turns_release_what_they_reserved(
    api: ApiClient, editor: str, agent: Any, fake_llm: Any, owner_sql: Conn, workspace: Any
) -> None:
    set_guardrail(api, editor, "LIMIT", max_turns_per_conversation=2)
    conv = chat(api, editor, "start").json()["conversation_id"]
    for _ in range(3):  # each would hold the last turn if it were not released
        problem_of(chat(api, editor, "fail:500", conv), 502, "upstream-unavailable")
    assert reservations(owner_sql, workspace) == 0
    assert chat(api, editor, "the second turn", conv).status == 200
    problem_of(chat(api, editor, "a third", conv), 422, "validation")


def test_a_database_failure_or_an_exception_releases_too(
    api: ApiClient,
    editor: str,
    agent: Any,
    fake_llm: Any,
    owner_sql: Conn,
    workspace: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from convoship.chat import turn as chat_turn

    conv = chat(api, editor, "start").json()["conversation_id"]
    real_persist = chat_turn.persist_turn

    def persist_then_lose_the_connection(conn: Any, *args: Any) -> None:
        real_persist(conn, *args)
        conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")

    monkeypatch.setattr(chat_turn, "persist_turn", persist_then_lose_the_connection)
    problem_of(chat(api, editor, "the database goes away", conv), 503, "service-unavailable")

    def broken(*args: Any) -> Any:
        raise RuntimeError("a bug in the turn")

    monkeypatch.setattr(chat_turn, "persist_turn", real_persist)
    monkeypatch.setattr(chat_turn, "model_reply", broken)
    problem_of(chat(api, editor, "a bug", conv), 500, "internal")
    assert reservations(owner_sql, workspace) == 0
    assert len(transcript(owner_sql, conv)) == 2
    assert count(owner_sql, "SELECT turns FROM ai_agent_conversations WHERE id = %s", conv) == 1


def test_a_dead_containers_reservation_lapses(
    api: ApiClient,
    editor: str,
    agent: Any,
    fake_llm: Any,
    owner_sql: Conn,
    workspace: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from convoship.chat import turn as chat_turn

    set_guardrail(api, editor, "LIMIT", max_turns_per_conversation=2)
    conv = chat(api, editor, "start").json()["conversation_id"]
    # A container that dies mid-turn never releases: the model fails, the release is lost.
    monkeypatch.setattr(chat_turn, "release_turn", lambda *args: None)
    problem_of(chat(api, editor, "fail:500", conv), 502, "upstream-unavailable")
    monkeypatch.undo()
    assert reservations(owner_sql, workspace) == 1
    problem_of(chat(api, editor, "held", conv), 422, "validation")  # the last turn is held
    owner_sql.execute(  # time passes: the reservation expired a while ago
        "UPDATE ai_agent_turn_reservations SET expires_at = now() - interval '2 minutes'"
        " WHERE workspace_id = %s",
        (workspace,),
    )
    assert chat(api, editor, "free again", conv).status == 200
    assert count(owner_sql, "SELECT turns FROM ai_agent_conversations WHERE id = %s", conv) == 2
    assert reservations(owner_sql, workspace) == 0  # and the next reservation swept it


def test_a_turn_that_outlives_its_reservation_writes_nothing(
    api: ApiClient,
    editor: str,
    agent: Any,
    fake_llm: Any,
    owner_sql: Conn,
    workspace: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from convoship.chat import turn as chat_turn

    conv = chat(api, editor, "start").json()["conversation_id"]
    spent_query = "SELECT tokens FROM ai_agent_usage_daily WHERE workspace_id = %s"
    spent = count(owner_sql, spent_query, workspace)
    real_reply = chat_turn.model_reply

    def slow_reply(*args: Any) -> Any:  # the reservation expires while the model thinks
        owner_sql.execute(
            "UPDATE ai_agent_turn_reservations SET expires_at = now() - interval '1 second'"
            " WHERE workspace_id = %s",
            (workspace,),
        )
        return real_reply(*args)

    monkeypatch.setattr(chat_turn, "model_reply", slow_reply)
    problem_of(chat(api, editor, "too slow", conv), 503, "service-unavailable")
    assert len(transcript(owner_sql, conv)) == 2
    assert count(owner_sql, "SELECT turns FROM ai_agent_conversations WHERE id = %s", conv) == 1
    # what the model spent is charged all the same (chat/spent.py), the turn is not written
    assert count(owner_sql, spent_query, workspace) > spent
    assert reservations(owner_sql, workspace) == 0


def test_refusals_reserve_nothing(
    api: ApiClient, editor: str, agent: Any, fake_llm: Any, owner_sql: Conn, workspace: Any
) -> None:
    set_guardrail(api, editor, "BUDGET", max_tokens_per_day=10)
    problem_of(chat(api, editor, "hello"), 429, "budget-exceeded")
    set_guardrail(api, editor, "LIMIT", max_input_chars=3)
    problem_of(chat(api, editor, "hello"), 413, "payload-too-large")
    assert reservations(owner_sql, workspace) == 0
    assert fake_llm.requests == []


TOOL_URL = "http://127.0.0.1:9/lookup"  # nothing listens: the tool call fails fast, offline


@pytest.fixture
def with_tool(
    api: ApiClient, editor: str, agent: Any, monkeypatch: pytest.MonkeyPatch
) -> Callable[[str, int], None]:
    """Adds a tool calling url (private addresses allowed, as a local deployment does)."""
    monkeypatch.setenv(env.ALLOW_PRIVATE_NETWORK, "1")
    reset_settings()

    def add(url: str, timeout_s: int = 10) -> None:
        tool = {"name": "lookup", "config": {"method": "GET", "url": url, "timeout_s": timeout_s}}
        created(api.post(f"/v1/ai-agents/{SLUG}/tools", token=editor, json=tool))

    return add


def usage_of(owner_sql: Conn, workspace: Any, conv: str) -> tuple[int, int]:
    """(the agent's tokens today, the conversation's tokens)"""
    today = count(
        owner_sql,
        "SELECT COALESCE(sum(tokens), 0) FROM ai_agent_usage_daily WHERE workspace_id = %s",
        workspace,
    )
    conversation = count(
        owner_sql,
        "SELECT (usage->>'input_tokens')::int + (usage->>'output_tokens')::int"
        " FROM ai_agent_conversations WHERE id = %s",
        conv,
    )
    return today, conversation


def test_a_turn_that_fails_after_the_model_spent_is_charged(
    api: ApiClient,
    editor: str,
    agent: Any,
    with_tool: Callable[[str, int], None],
    fake_llm: Any,
    owner_sql: Conn,
    workspace: Any,
) -> None:
    """The second model call of a tool loop fails: what the first spent is charged, so
    failing turns cannot spend past the budget."""
    with_tool(TOOL_URL, 10)
    set_guardrail(api, editor, "BUDGET", max_tokens_per_conversation=2000)
    conv = chat(api, editor, "start").json()["conversation_id"]
    before = usage_of(owner_sql, workspace, conv)
    failing = "call:lookup {} fail-after-tool:500 " + "padding " * 40
    problem_of(chat(api, editor, failing, conv), 502, "upstream-unavailable")
    after = usage_of(owner_sql, workspace, conv)
    spent = after[0] - before[0]
    assert spent > 0 and after[1] - before[1] == spent  # charged to the day and the talk
    assert reservations(owner_sql, workspace) == 0
    assert len(transcript(owner_sql, conv)) == 2  # the failed turn wrote no message
    assert count(owner_sql, "SELECT turns FROM ai_agent_conversations WHERE id = %s", conv) == 1
    for _ in range(2000 // spent + 1):  # failing again and again ends at the budget
        response = chat(api, editor, failing, conv)
        if response.status == 429:
            break
        problem_of(response, 502, "upstream-unavailable")
    problem_of(response, 429, "budget-exceeded")


def test_a_turn_past_its_deadline_stops_and_is_charged(
    api: ApiClient,
    editor: str,
    agent: Any,
    with_tool: Callable[[str, int], None],
    fake_llm: Any,
    owner_sql: Conn,
    workspace: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Model and tool calls share one deadline: a tool that answers within its own timeout
    (10 s) but past the turn's (1 s) stops the turn: 502, and what the model spent is
    charged."""
    release = threading.Event()

    def hang(_: Seen) -> tuple[int, bytes]:
        release.wait(60)
        return 200, b"{}"

    server = RecordingServer(hang)
    try:
        with_tool(server.url + "/slow", 10)
        monkeypatch.setenv(env.CHAT_TURN_DEADLINE_S, "1")
        reset_settings()
        conv = chat(api, editor, "start").json()["conversation_id"]
        before = usage_of(owner_sql, workspace, conv)
        response = chat(api, editor, "call:lookup {}", conv)
        problem = problem_of(response, 502, "upstream-unavailable")
        assert problem["detail"] == (
            "the turn did not finish within 1 s (its model and tool calls together)"
        )
        assert len(server.received) == 1  # the tool was called, and cut short
        after = usage_of(owner_sql, workspace, conv)
        assert after[0] > before[0] and after[1] > before[1]
        assert reservations(owner_sql, workspace) == 0
        assert len(transcript(owner_sql, conv)) == 2
    finally:
        release.set()
        server.stop()


def daily_tokens(owner_sql: Conn, workspace: Any) -> int:
    return count(
        owner_sql,
        "SELECT COALESCE(sum(tokens), 0) FROM ai_agent_usage_daily WHERE workspace_id = %s",
        workspace,
    )


@pytest.mark.parametrize("failure", ["sleep:3000", "fail:garbage"])
def test_a_model_call_sent_without_a_usable_answer_is_charged_its_reservation(
    api: ApiClient,
    editor: str,
    agent: Any,
    fake_llm: Any,
    owner_sql: Conn,
    workspace: Any,
    monkeypatch: pytest.MonkeyPatch,
    failure: str,
) -> None:
    """The provider got the request and no usable answer came back (the turn's deadline cut
    it, or the answer cannot be read): it may have billed, so the turn is charged what it
    reserved (input estimate plus max_output_tokens), never released as unused; asking for
    long answers that run out the deadline costs the budget."""
    monkeypatch.setenv(env.CHAT_TURN_DEADLINE_S, "1")
    reset_settings()
    set_guardrail(api, editor, "BUDGET", max_tokens_per_conversation=5000)
    conv = chat(api, editor, "start").json()["conversation_id"]
    before = usage_of(owner_sql, workspace, conv)
    message = f"write 8000 words {failure}"
    problem_of(chat(api, editor, message), 502, "upstream-unavailable")  # a new conversation
    snapshot = AgentSnapshot.of({"system_prompt": SYSTEM_PROMPT}, [], [])
    reserved = estimate_input_tokens(snapshot, [], message) + MAX_OUTPUT
    assert daily_tokens(owner_sql, workspace) - before[0] == reserved
    problem_of(chat(api, editor, message, conv), 502, "upstream-unavailable")
    after = usage_of(owner_sql, workspace, conv)
    charged = after[0] - before[0] - reserved
    assert charged > reserved and after[1] - before[1] == charged  # the day and the talk
    assert reservations(owner_sql, workspace) == 0
    assert len(transcript(owner_sql, conv)) == 2  # the failed turns wrote no message


def test_a_provider_that_refuses_with_an_error_status_bills_nothing(
    api: ApiClient, editor: str, agent: Any, fake_llm: Any, owner_sql: Conn, workspace: Any
) -> None:
    """An HTTP error status comes before any generation: the turn is released, not charged."""
    set_guardrail(api, editor, "BUDGET", max_tokens_per_conversation=5000)
    before = daily_tokens(owner_sql, workspace)
    problem_of(chat(api, editor, "hello fail:500"), 502, "upstream-unavailable")
    assert daily_tokens(owner_sql, workspace) == before
    assert reservations(owner_sql, workspace) == 0
