"""An embed turn on a token this container has read reserves in its read's round trip
(chat/read_ahead.py, migration 0013): two round trips to PostgreSQL, not three. The
reservation is made only when RPM, AUTH's origin, LIMIT's input size and ESCALATE's keywords
passed on the kept version, only while that version is still the latest, and whatever
refuses the turn afterwards gives it back; limits hold under concurrency as before."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from convoship.chat import checks
from convoship.chat.reservation import estimate_input_tokens
from convoship.runtime.snapshot import AgentSnapshot
from tests.support.agents import SLUG, Conn, count, problem_of
from tests.support.api_client import ApiClient
from tests.support.chat import all_at_once, embed, transcript
from tests.support.clock_minute import a_fresh_minute
from tests.support.published_agent import (
    MAX_OUTPUT,
    SYSTEM_PROMPT,
    daily_tokens,
    held_while_the_model_thinks,
    reservations,
)
from tests.support.publishing import publish, set_guardrail, set_threshold


def test_a_known_tokens_turns_reserve_in_their_read(
    api: ApiClient,
    public: str,
    fake_llm: Any,
    owner_sql: Conn,
    workspace: Any,
    round_trips: list[str],
) -> None:
    first = embed(api, public, "hello")  # this container has not read the token yet
    assert first.status == 200, first.text
    assert len(round_trips) == 3
    round_trips.clear()
    second = embed(api, public, "a new conversation")
    assert second.status == 200, second.text
    assert len(round_trips) == 2
    assert "reserve_published_turn" in round_trips[0]
    round_trips.clear()
    conv = second.json()["conversation_id"]
    third = embed(api, public, "and it goes on", conv)
    assert third.status == 200 and third.json()["conversation_id"] == conv
    assert len(round_trips) == 2
    assert [m["role"] for m in transcript(owner_sql, conv)] == ["user", "assistant"] * 2
    turns = count(owner_sql, "SELECT turns FROM ai_agent_conversations WHERE id = %s", conv)
    assert turns == 2
    assert reservations(owner_sql, workspace) == 0  # each settled by its turn's write


def test_a_continuing_turns_read_reads_its_conversation_once_and_the_model_gets_it(
    api: ApiClient, public: str, fake_llm: Any, round_trips: list[str]
) -> None:
    conv = embed(api, public, "hello").json()["conversation_id"]
    assert embed(api, public, "and then?", conv).status == 200
    round_trips.clear()
    assert embed(api, public, "and after that?", conv).status == 200
    assert len(round_trips) == 2
    read = round_trips[0]
    assert "reserve_published_turn" in read  # which reads the conversation...
    assert "ai_agent_messages" not in read  # ...so no query of the batch reads it again
    assert "ai_agent_conversations" not in read
    sent = fake_llm.requests[-1].body["messages"]
    assert [(m["role"], m["content"]) for m in sent[1:]] == [
        ("user", "hello"),
        ("assistant", "echo: hello"),
        ("user", "and then?"),
        ("assistant", "echo: and then?"),
        ("user", "and after that?"),
    ]


def test_what_the_read_reserves_is_the_turns_estimate(
    api: ApiClient, public: str, fake_llm: Any, owner_sql: Conn, monkeypatch: pytest.MonkeyPatch
) -> None:
    conv = embed(api, public, "hello").json()["conversation_id"]
    held = held_while_the_model_thinks(monkeypatch, owner_sql, conv)
    message = "a question with ünïcödé in it"
    assert embed(api, public, message, conv).status == 200
    history = [{"content": "hello"}, {"content": "echo: hello"}]
    snapshot = AgentSnapshot.of({"system_prompt": SYSTEM_PROMPT}, [], [])
    assert held == [estimate_input_tokens(snapshot, history, message) + MAX_OUTPUT]


def test_a_turn_after_a_new_publish_is_judged_on_the_new_version(
    api: ApiClient,
    editor: str,
    public: str,
    fake_llm: Any,
    owner_sql: Conn,
    workspace: Any,
    round_trips: list[str],
) -> None:
    assert embed(api, public, "hello").status == 200
    set_guardrail(api, editor, "LIMIT", max_input_chars=5)
    assert publish(api, editor).status == 201
    fake_llm.requests.clear()
    round_trips.clear()
    # The kept version allowed it; the database refused to reserve for a stale version.
    problem_of(embed(api, public, "too long for version two"), 413, "payload-too-large")
    assert fake_llm.requests == []
    assert reservations(owner_sql, workspace) == 0
    assert len(round_trips) == 1
    assert embed(api, public, "short").status == 200


def test_a_kept_versions_documents_are_not_read_again(
    api: ApiClient,
    editor: str,
    public: str,
    fake_llm: Any,
    round_trips: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A published version never changes: once this container read it, later turns reuse
    its config, guardrails and tools (migration 0015), and a new publish brings the new
    ones, while the agent's name, settings and usage are read every turn."""
    from convoship.chat import published_read

    built: list[str] = []  # the system prompts the embed's reads decoded

    class Counting(AgentSnapshot):
        @classmethod
        def of(cls, config: Any, *rest: Any) -> AgentSnapshot:
            built.append(config["system_prompt"])
            return AgentSnapshot.of(config, *rest)

    monkeypatch.setattr(published_read, "AgentSnapshot", Counting)

    def system_prompt() -> str:
        return str(fake_llm.requests[-1].body["messages"][0]["content"])

    assert embed(api, public, "hello").status == 200
    assert embed(api, public, "again").status == 200
    assert embed(api, public, "and again").status == 200
    assert built == [SYSTEM_PROMPT]  # decoded once, by the first read
    assert system_prompt() == SYSTEM_PROMPT
    assert len(round_trips) == 3 + 2 + 2
    renamed = api.patch(
        f"/v1/ai-agents/{SLUG}", token=editor, json={"config": {"system_prompt": "Be brief."}}
    )
    assert renamed.status == 200, renamed.text
    assert embed(api, public, "not published yet").status == 200
    assert system_prompt() == SYSTEM_PROMPT and built == [SYSTEM_PROMPT]
    assert publish(api, editor).status == 201
    assert embed(api, public, "after the publish").status == 200
    assert system_prompt() == "Be brief."
    assert embed(api, public, "and after").status == 200
    assert system_prompt() == "Be brief."
    assert built == [SYSTEM_PROMPT, "Be brief."]


def test_a_cap_lowered_since_the_kept_read_refuses_and_gives_the_reservation_back(
    api: ApiClient,
    admin: str,
    public: str,
    fake_llm: Any,
    owner_sql: Conn,
    workspace: Any,
    round_trips: list[str],
) -> None:
    a_fresh_minute()
    assert embed(api, public, "hello").status == 200
    set_threshold(api, admin, 0, rpm=1)  # the kept settings still say 1,000
    fake_llm.requests.clear()
    round_trips.clear()
    refused = embed(api, public, "one too many")
    problem_of(refused, 429, "rate-limited")
    assert refused.headers["x-ratelimit-limit"] == "1"
    assert "reserve_published_turn" in round_trips[0]  # the read reserved...
    assert reservations(owner_sql, workspace) == 0  # ...and the refusal gave it back
    assert fake_llm.requests == []


def test_refused_before_the_read_reserves_nothing(
    api: ApiClient,
    editor: str,
    public: str,
    fake_llm: Any,
    owner_sql: Conn,
    workspace: Any,
    round_trips: list[str],
) -> None:
    set_guardrail(api, editor, "AUTH", allowed_origins=["https://shop.example.com"])
    assert publish(api, editor).status == 201
    shop = {"origin": "https://shop.example.com"}
    assert embed(api, public, "hello", **shop).status == 200
    round_trips.clear()
    problem_of(
        embed(api, public, "hi", origin="https://evil.example.net"), 403, "origin-not-allowed"
    )
    problem_of(embed(api, public, "hi " * 2000, **shop), 413, "payload-too-large")
    assert not any("reserve" in sent for sent in round_trips)
    assert reservations(owner_sql, workspace) == 0


def test_an_escalated_conversation_gives_back_what_its_read_held(
    api: ApiClient, public: str, fake_llm: Any, owner_sql: Conn, workspace: Any
) -> None:
    conv = embed(api, public, "hello").json()["conversation_id"]
    escalated = embed(api, public, "I want a human", conv)
    assert escalated.status == 200 and escalated.json()["escalated"] is True
    spent = daily_tokens(owner_sql, workspace)
    fake_llm.requests.clear()
    after = embed(api, public, "are you there?", conv)  # no keyword: the read reserved
    assert after.status == 200 and after.json()["escalated"] is True
    assert fake_llm.requests == []
    assert daily_tokens(owner_sql, workspace) == spent
    turns = count(owner_sql, "SELECT turns FROM ai_agent_conversations WHERE id = %s", conv)
    assert turns == 3
    assert reservations(owner_sql, workspace) == 0


def test_a_read_that_fails_after_it_reserved_gives_the_reservation_back(
    api: ApiClient,
    public: str,
    fake_llm: Any,
    owner_sql: Conn,
    workspace: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from convoship.chat import scope as chat_scope
    from convoship.chat.published_read import read_published_turn as real_read

    assert embed(api, public, "hello").status == 200

    def read_then_fail(*args: Any) -> Any:
        real_read(*args)  # the batch committed, reservation and all
        raise RuntimeError("a bug after the read")

    monkeypatch.setattr(chat_scope, "read_published_turn", read_then_fail)
    problem_of(embed(api, public, "hi"), 500, "internal")
    assert reservations(owner_sql, workspace) == 0
    assert fake_llm.requests[1:] == []


def test_an_escalated_conversations_read_does_not_hold_another_visitors_day_budget(
    api: ApiClient,
    editor: str,
    public: str,
    fake_llm: Any,
    owner_sql: Conn,
    workspace: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conv = embed(api, public, "hello " * 200).json()["conversation_id"]  # a long history
    escalated = embed(api, public, "I want a human", conv)
    assert escalated.status == 200 and escalated.json()["escalated"] is True
    warm = embed(api, public, "w")
    usage_w = sum(warm.json()["usage"].values())
    legit = "what are your opening hours?"
    snapshot = AgentSnapshot.of({"system_prompt": SYSTEM_PROMPT}, [], [])
    need = estimate_input_tokens(snapshot, [], legit) + MAX_OUTPUT
    history = [
        {"content": m["content"]}
        for m in transcript(owner_sql, conv)
        if m["role"] in ("user", "assistant")
    ]
    held = estimate_input_tokens(snapshot, history, "are you there?") + MAX_OUTPUT
    assert held > need
    used = daily_tokens(owner_sql, workspace)
    # After the next warm turn, room for what the escalated read holds or for the other
    # visitor's turn, not both.
    set_guardrail(api, editor, "BUDGET", max_tokens_per_day=used + usage_w + held + 1)
    assert publish(api, editor).status == 201
    assert embed(api, public, "w").status == 200  # this container keeps the new version
    assert daily_tokens(owner_sql, workspace) == used + usage_w

    paused, resume = threading.Event(), threading.Event()
    real = checks.escalation

    def slow_escalation(context: Any, message: str, c: Any) -> Any:
        if c is not None and c.status == "escalated":  # after the read, before give-back
            paused.set()
            resume.wait(10)
        return real(context, message, c)

    monkeypatch.setattr(checks, "escalation", slow_escalation)
    with ThreadPoolExecutor(max_workers=1) as pool:
        attacker = pool.submit(embed, api, public, "are you there?", conv)
        assert paused.wait(10)
        try:
            other = embed(api, public, legit)  # another visitor, a new conversation
        finally:
            resume.set()
        escalated_again = attacker.result()
    # The three-trip path answers 200: an escalation holds no more than 1 token.
    assert other.status == 200, (other.status, other.text)
    assert escalated_again.status == 200, escalated_again.text
    assert reservations(owner_sql, workspace) == 0


def test_parallel_reads_that_reserve_keep_the_turn_cap(
    api: ApiClient,
    editor: str,
    public: str,
    fake_llm: Any,
    owner_sql: Conn,
    workspace: Any,
    round_trips: list[str],
) -> None:
    set_guardrail(api, editor, "LIMIT", max_turns_per_conversation=2)
    assert publish(api, editor).status == 201
    conv = embed(api, public, "start").json()["conversation_id"]
    fake_llm.delay_s = 0.05  # the model thinks while the others arrive
    responses = all_at_once([lambda i=i: embed(api, public, f"m{i}", conv) for i in range(12)])
    statuses = sorted(r.status for r in responses)
    assert statuses == [200] + [422] * 11, statuses
    assert any("reserve_published_turn" in sent for sent in round_trips)
    turns = count(owner_sql, "SELECT turns FROM ai_agent_conversations WHERE id = %s", conv)
    assert turns == 2
    assert reservations(owner_sql, workspace) == 0


def test_parallel_reads_that_reserve_keep_the_daily_budget(
    api: ApiClient,
    editor: str,
    public: str,
    fake_llm: Any,
    owner_sql: Conn,
    workspace: Any,
) -> None:
    assert embed(api, public, "warm").status == 200
    used = daily_tokens(owner_sql, workspace)
    budget = used + 200
    set_guardrail(api, editor, "BUDGET", max_tokens_per_day=budget)
    assert publish(api, editor).status == 201
    assert embed(api, public, "warm again").status == 200  # keeps the new version
    fake_llm.delay_s = 0.05
    messages = [f"parallel turn number {i:02d} asks its question" for i in range(16)]
    responses = all_at_once([lambda m=m: embed(api, public, m) for m in messages])
    statuses = [r.status for r in responses]
    assert 200 in statuses and 429 in statuses, statuses
    for refused in (r for r in responses if r.status != 200):
        problem_of(refused, 429, "budget-exceeded")
    snapshot = AgentSnapshot.of({"system_prompt": SYSTEM_PROMPT}, [], [])
    overrun = sum(
        max(0, r.json()["usage"]["input_tokens"] - estimate_input_tokens(snapshot, [], m))
        + max(0, r.json()["usage"]["output_tokens"] - MAX_OUTPUT)
        for m, r in zip(messages, responses, strict=True)
        if r.status == 200
    )
    assert daily_tokens(owner_sql, workspace) <= budget + overrun
    assert reservations(owner_sql, workspace) == 0


def test_the_count_goes_out_before_the_read_and_its_reply_is_read_after(
    api: ApiClient, public: str, fake_llm: Any, round_trips: list[str], monkeypatch: Any
) -> None:
    from convoship.runtime import ratelimit

    real_send, real_read = ratelimit._Line.send, ratelimit._InFlight.__call__

    def send(line: Any, *args: Any) -> Any:
        round_trips.append("count sent")
        return real_send(line, *args)

    def read(in_flight: Any) -> int:
        round_trips.append("count read")
        return real_read(in_flight)

    monkeypatch.setattr(ratelimit._Line, "send", send)
    monkeypatch.setattr(ratelimit._InFlight, "__call__", read)
    assert embed(api, public, "hello").status == 200  # not known yet: counted after its read
    round_trips.clear()
    assert embed(api, public, "again").status == 200
    assert [step.split(" ; ")[0][:30] for step in round_trips] == [
        "count sent",
        "SELECT * FROM reserve_publishe",
        "count read",
        "SELECT write_chat_turn(%(id)s,",
    ]


def test_a_count_other_containers_took_over_the_cap_gives_back_and_stops_reserving(
    api: ApiClient,
    admin: str,
    public: str,
    fake_llm: Any,
    owner_sql: Conn,
    workspace: Any,
    round_trips: list[str],
    redis_url: str,
) -> None:
    import redis

    from convoship.runtime.ratelimit import WINDOW_S

    a_fresh_minute()
    set_threshold(api, admin, 0, rpm=3)
    assert embed(api, public, "hello").status == 200  # counted 1 here; the cap kept
    row = owner_sql.execute(
        "SELECT id FROM ai_agents WHERE public_token = %s", (public,)
    ).fetchone()
    assert row is not None
    server = redis.Redis.from_url(redis_url)
    key = f"rpm:{row['id']}:embed:{int(time.time() // WINDOW_S)}"
    assert server.incrby(key, 5) == 6  # five requests counted by other containers
    fake_llm.requests.clear()
    round_trips.clear()
    refused = embed(api, public, "one too many")  # this container foresaw 2 of 3
    problem_of(refused, 429, "rate-limited")
    assert "reserve_published_turn" in round_trips[0]  # the read reserved...
    assert reservations(owner_sql, workspace) == 0  # ...and the refusal gave it back
    round_trips.clear()
    problem_of(embed(api, public, "and another"), 429, "rate-limited")
    assert not any("reserve" in sent for sent in round_trips)  # it foresees 8 now
    assert reservations(owner_sql, workspace) == 0
    assert fake_llm.requests == []
    server.close()
