"""Attacks on the embed chat path's controls (review p17attack): partial failures of the
database and of Redis around a turn that reserves in its read, parallel turns against small
caps, and the same value spelled another way. Invariants: no 500, nothing half-written,
limits never exceeded nor multiplied by a failure, no reservation outlives its turn."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import psycopg
import pytest

from convoship.db import read_batch
from tests.support.agents import Conn, count, problem_of
from tests.support.api_client import ApiClient
from tests.support.chat import all_at_once, embed, transcript
from tests.support.clock_minute import a_fresh_minute
from tests.support.published_agent import MAX_OUTPUT, SYSTEM_PROMPT, daily_tokens, reservations
from tests.support.publishing import publish, set_guardrail, set_threshold


def conversation_usage(owner_sql: Conn, conv: str) -> int:
    return count(
        owner_sql,
        "SELECT (usage->>'input_tokens')::bigint + (usage->>'output_tokens')::bigint"
        " FROM ai_agent_conversations WHERE id = %s",
        conv,
    )


def lose_the_reply_of(monkeypatch: pytest.MonkeyPatch, marker: str) -> list[int]:
    """The batch whose SQL holds `marker` reaches the server and commits, and its reply is
    lost (the connection dies after COMMIT ran): what a reset at that moment looks like."""
    lost: list[int] = []
    real_send = read_batch.ReadBatch._send

    def send(batch: read_batch.ReadBatch) -> Any:
        results = real_send(batch)
        if any(marker in str(query) for query, _ in batch._queries) and not lost:
            lost.append(1)
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        return results

    monkeypatch.setattr(read_batch.ReadBatch, "_send", send)
    return lost


def test_a_turn_whose_committed_write_lost_its_reply_is_not_charged_twice(
    api: ApiClient,
    public: str,
    fake_llm: Any,
    owner_sql: Conn,
    workspace: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The write committed (messages, usage, settled reservation) and its reply was lost:
    the turn then charges its usage again as a failed turn's (chat/spent.py), so the agent's
    day and the conversation count that one turn's tokens twice."""
    message = "and then the line drops"
    control = embed(api, public, "hello").json()["conversation_id"]
    conv = embed(api, public, "hello").json()["conversation_id"]
    day = daily_tokens(owner_sql, workspace)
    control_before = conversation_usage(owner_sql, control)
    assert embed(api, public, message, control).status == 200  # the same turn, no failure
    one_turn = conversation_usage(owner_sql, control) - control_before
    assert daily_tokens(owner_sql, workspace) - day == one_turn > 0

    day, conv_before = daily_tokens(owner_sql, workspace), conversation_usage(owner_sql, conv)
    lost = lose_the_reply_of(monkeypatch, "write_chat_turn")
    problem_of(embed(api, public, message, conv), 503, "service-unavailable")
    assert lost
    assert reservations(owner_sql, workspace) == 0
    assert len(transcript(owner_sql, conv)) == 4  # it committed before the reply was lost
    assert conversation_usage(owner_sql, conv) - conv_before == one_turn
    assert daily_tokens(owner_sql, workspace) - day == one_turn


def test_a_read_that_reserved_and_lost_its_reply_gives_the_reservation_back(
    api: ApiClient,
    public: str,
    fake_llm: Any,
    owner_sql: Conn,
    workspace: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conv = embed(api, public, "hello").json()["conversation_id"]  # the token is kept now
    lost = lose_the_reply_of(monkeypatch, "reserve_published_turn")
    problem_of(embed(api, public, "the read's reply is lost", conv), 503, "service-unavailable")
    assert lost
    assert reservations(owner_sql, workspace) == 0
    assert len(transcript(owner_sql, conv)) == 2
    assert embed(api, public, "and the next turn goes through", conv).status == 200
    assert reservations(owner_sql, workspace) == 0


def test_a_read_whose_connection_was_terminated_answers_503_or_recovers(
    api: ApiClient,
    public: str,
    fake_llm: Any,
    owner_sql: Conn,
    workspace: Any,
) -> None:
    conv = embed(api, public, "hello").json()["conversation_id"]
    owner_sql.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE usename LIKE 'convoship%%' AND pid <> pg_backend_pid()"
    )
    answer = embed(api, public, "after the kill", conv)
    assert answer.status in (200, 503), answer.text
    assert reservations(owner_sql, workspace) == 0
    assert embed(api, public, "again", conv).status == 200
    assert reservations(owner_sql, workspace) == 0


def test_the_model_failing_after_the_read_reserved_gives_it_back(
    api: ApiClient, editor: str, public: str, fake_llm: Any, owner_sql: Conn, workspace: Any
) -> None:
    set_guardrail(api, editor, "LIMIT", max_turns_per_conversation=2)
    assert publish(api, editor).status == 201
    conv = embed(api, public, "start").json()["conversation_id"]
    for _ in range(4):  # each read reserves the last turn; each failure must give it back
        problem_of(embed(api, public, "fail:500", conv), 502, "upstream-unavailable")
        assert reservations(owner_sql, workspace) == 0
    assert embed(api, public, "the second turn", conv).status == 200
    problem_of(embed(api, public, "a third", conv), 422, "validation")
    assert reservations(owner_sql, workspace) == 0


def test_parallel_turns_across_conversations_keep_a_small_rpm_cap(
    api: ApiClient, admin: str, public: str, fake_llm: Any, owner_sql: Conn, workspace: Any
) -> None:
    set_threshold(api, admin, 0, rpm=4)  # the kept settings say 1,000 after the next turn
    fake_llm.delay_s = 0.02
    a_fresh_minute(20)
    first = embed(api, public, "warm")
    assert first.status == 200, first.text
    responses = all_at_once([lambda i=i: embed(api, public, f"visitor {i}") for i in range(16)])
    statuses = [r.status for r in responses]
    assert set(statuses) <= {200, 429}, statuses
    # 4 a minute: at most 3 besides the warm one (or 4 if the minute turned mid-test)
    assert statuses.count(200) <= 4, statuses
    assert reservations(owner_sql, workspace) == 0


def test_a_redis_failure_does_not_start_the_minutes_count_over(
    api: ApiClient,
    admin: str,
    public: str,
    fake_llm: Any,
    owner_sql: Conn,
    workspace: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two requests reach the cap in Redis; Redis then fails. The limiter counts the rest of
    the minute elsewhere: in-process here (stage test), from zero, so the cap is passed."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    from convoship.runtime import ratelimit

    set_threshold(api, admin, 0, rpm=2)
    a_fresh_minute(20)
    statuses = [embed(api, public, f"m{i}").status for i in range(3)]
    assert statuses == [200, 200, 429], statuses

    def reset_after_send(*args: Any) -> Any:
        raise RedisConnectionError("Connection reset by peer")

    monkeypatch.setattr(ratelimit._Sent, "_call", reset_after_send)
    monkeypatch.setattr(ratelimit, "_incr_on", lambda *a: reset_after_send())
    after = embed(api, public, "one more once Redis fails")
    assert after.status == 429, (after.status, after.text)  # the cap, not a fresh count
    assert reservations(owner_sql, workspace) == 0


@pytest.mark.parametrize(
    "spell",
    [str.upper, lambda u: u.replace("-", ""), lambda u: "{" + u + "}", lambda u: "urn:uuid:" + u],
)
def test_a_conversation_id_spelt_another_way_is_the_same_conversation(
    api: ApiClient, public: str, fake_llm: Any, owner_sql: Conn, workspace: Any, spell: Any
) -> None:
    conv = embed(api, public, "hello").json()["conversation_id"]
    answer = api.post(
        f"/v1/embed/{public}/chat", json={"message": "again", "conversation_id": spell(conv)}
    )
    assert answer.status in (200, 422), answer.text
    if answer.status == 200:
        assert answer.json()["conversation_id"] == conv
        assert count(owner_sql, "SELECT turns FROM ai_agent_conversations WHERE id = %s", conv) == 2
    assert reservations(owner_sql, workspace) == 0


@pytest.mark.parametrize(
    "conversation_id",
    [
        "00000000-0000-0000-0000-000000000000",
        "ffffffff-ffff-ffff-ffff-ffffffffffff",
        "x" * 100_000,
        "\u0661" * 32,  # Arabic-Indic digits
        "\uff10" * 32,  # fullwidth zeros
        12345,
        None,
        ["a"],
        "0" * 16,
    ],
)
def test_hostile_conversation_ids_never_500_nor_hold_anything(
    api: ApiClient,
    public: str,
    fake_llm: Any,
    owner_sql: Conn,
    workspace: Any,
    conversation_id: Any,
) -> None:
    assert embed(api, public, "hello").status == 200  # the token is kept: reads reserve
    answer = api.post(
        f"/v1/embed/{public}/chat", json={"message": "hi", "conversation_id": conversation_id}
    )
    assert answer.status < 500, answer.text
    assert reservations(owner_sql, workspace) == 0


@pytest.mark.parametrize(
    "origin",
    [
        "https://shop.example.com\x00",
        "https://shop.example.com\t",
        "https://sh\top.example.com",
        "HTTPS://SHOP.EXAMPLE.COM:443",
        "https://shop.example.com.",
        "https://shop.example.com:0",
        "https://shop.example.com:99999",
        "https://[::1",
        "https://shop.example.com\u2100",  # NFKC: a/c
        "https://xn--shop.example.com",
        "null",
        "",
        "h" * 2048,
        "https://shop.example.com@evil.example.net",
    ],
)
def test_hostile_origins_never_500_nor_hold_anything(
    api: ApiClient,
    editor: str,
    public: str,
    fake_llm: Any,
    owner_sql: Conn,
    workspace: Any,
    origin: str,
) -> None:
    set_guardrail(api, editor, "AUTH", allowed_origins=["https://shop.example.com"])
    assert publish(api, editor).status == 201
    assert embed(api, public, "hello", origin="https://shop.example.com").status == 200
    try:
        answer = embed(api, public, "hi", origin=origin)
    except (ValueError, UnicodeError):  # a header the client cannot even send
        return
    assert answer.status < 500, answer.text
    assert reservations(owner_sql, workspace) == 0


@pytest.mark.parametrize(
    "segment",
    ["A" * 128, "A" * 129, "%00" * 10, "%C0%AE" * 10, "%ED%A0%80" * 5, "..%2F..%2Fx" * 2],
)
def test_hostile_public_token_segments_never_500(
    api: ApiClient, public: str, fake_llm: Any, owner_sql: Conn, workspace: Any, segment: str
) -> None:
    answer = api.post(f"/v1/embed/{segment}/chat", json={"message": "hi"})
    assert answer.status < 500, answer.text
    assert answer.status in (404, 422), answer.text
    assert reservations(owner_sql, workspace) == 0


def test_a_new_conversations_reserved_id_is_never_the_callers(
    api: ApiClient, public: str, fake_llm: Any, owner_sql: Conn, workspace: Any
) -> None:
    assert embed(api, public, "hello").status == 200
    unknown = str(uuid.uuid4())
    problem_of(embed(api, public, "hi", unknown), 404, "not-found")
    assert reservations(owner_sql, workspace) == 0
    assert (
        count(owner_sql, "SELECT count(*) FROM ai_agent_conversations WHERE id = %s", unknown) == 0
    )


def test_production_keeps_the_minutes_count_when_redis_fails_mid_minute(
    monkeypatch: pytest.MonkeyPatch, owner_sql: Conn, workspace: Any
) -> None:
    """The production path (count in PostgreSQL, seeded from what Redis said): holds."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    from convoship.core import constants as env
    from convoship.core.settings import reset_settings
    from convoship.runtime import ratelimit
    from convoship.runtime.ratelimit_postgres import CounterScope
    from tests.support.seed import seed_graph

    monkeypatch.setenv(env.STAGE, "production")
    monkeypatch.delenv(env.AUDIT_DEV_SIGNING_KEY, raising=False)
    reset_settings()
    ratelimit.reset()
    ids = seed_graph(owner_sql, workspace)
    scope = CounterScope(workspace, {"public_token": ids["public_token"]})
    a_fresh_minute(20)
    decisions = [ratelimit.check_agent_rpm(ids["agent"], "embed", 2, scope=scope) for _ in "ab"]
    assert all(d and d.allowed for d in decisions), decisions

    def reset_after_send(*args: Any) -> Any:
        raise RedisConnectionError("Connection reset by peer")

    monkeypatch.setattr(ratelimit._Sent, "_call", reset_after_send)
    monkeypatch.setattr(ratelimit, "_incr_on", lambda *a: reset_after_send())
    third = ratelimit.check_agent_rpm(ids["agent"], "embed", 2, scope=scope)
    assert third is not None and not third.allowed


def test_a_reply_lost_on_the_kept_redis_line_counts_at_most_once_more(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reset after the script ran, before its reply: the retry counts again (errs high by
    one request), never low, and the limiter does not degrade."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    from convoship.runtime import ratelimit

    ratelimit.reset()
    agent = uuid.uuid4()
    assert ratelimit.check_agent_rpm(agent, "embed", 10).remaining == 9  # type: ignore[union-attr]
    real_call = ratelimit._Sent._call
    dropped: list[int] = []

    def run_then_drop(self: Any, *args: Any) -> Any:
        reply = real_call(self, *args)
        if not dropped:
            dropped.append(1)
            raise RedisConnectionError("Connection reset by peer")
        return reply

    monkeypatch.setattr(ratelimit._Sent, "_call", run_then_drop)
    decision = ratelimit.check_agent_rpm(agent, "embed", 10)
    assert decision is not None and decision.remaining in (7, 8)


def test_a_reservation_whose_reply_was_lost_is_given_back(
    api: ApiClient,
    public: str,
    fake_llm: Any,
    owner_sql: Conn,
    workspace: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The three-trip turn (a token this container has not read yet): its reservation's
    batch committed and the reply was lost. The turn answers 503 and must not leave the
    reservation holding a turn and its tokens for RESERVATION_TTL_S."""
    lost = lose_the_reply_of(monkeypatch, "reserve_chat_turn")
    problem_of(embed(api, public, "the reservation's reply is lost"), 503, "service-unavailable")
    assert lost
    assert reservations(owner_sql, workspace) == 0


def test_parallel_turns_with_failing_models_keep_the_turn_cap_and_hold_nothing(
    api: ApiClient, editor: str, public: str, fake_llm: Any, owner_sql: Conn, workspace: Any
) -> None:
    set_guardrail(api, editor, "LIMIT", max_turns_per_conversation=3)
    assert publish(api, editor).status == 201
    conv = embed(api, public, "start").json()["conversation_id"]
    fake_llm.delay_s = 0.02
    messages = ["fail:500", "fail:garbage", "a question", "sleep:30"] * 4
    responses = all_at_once([lambda m=m: embed(api, public, m, conv) for m in messages])
    statuses = [r.status for r in responses]
    assert set(statuses) <= {200, 422, 502}, statuses
    turns = count(owner_sql, "SELECT turns FROM ai_agent_conversations WHERE id = %s", conv)
    assert turns <= 3 and turns == 1 + statuses.count(200)
    assert len(transcript(owner_sql, conv)) == 2 * turns
    assert reservations(owner_sql, workspace) == 0


def test_parallel_turns_while_the_database_kills_connections_hold_nothing(
    api: ApiClient,
    editor: str,
    public: str,
    fake_llm: Any,
    owner_sql: Conn,
    workspace: Any,
    database: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every reservation is given back, or its give-back was tried and failed (logged: it
    then lapses by itself, by design). Any other one left over leaked."""
    set_guardrail(api, editor, "LIMIT", max_turns_per_conversation=6)
    assert publish(api, editor).status == 201
    conv = embed(api, public, "start").json()["conversation_id"]
    stop = threading.Event()

    def killer() -> None:
        with psycopg.connect(database.admin_url, dbname=database.dbname, autocommit=True) as conn:
            while not stop.is_set():
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE usename LIKE 'convoship%%' AND pid <> pg_backend_pid()"
                )
                stop.wait(0.04)

    thread = threading.Thread(target=killer)
    thread.start()
    caplog.set_level("WARNING")
    try:
        responses = all_at_once(
            [lambda i=i: embed(api, public, f"m{i}", conv if i % 2 else None) for i in range(16)]
        )
    finally:
        stop.set()
        thread.join()
    statuses = [r.status for r in responses]
    assert set(statuses) <= {200, 422, 503}, [(r.status, r.text[:200]) for r in responses]
    turns = count(owner_sql, "SELECT turns FROM ai_agent_conversations WHERE id = %s", conv)
    assert turns <= 6
    assert len(transcript(owner_sql, conv)) == 2 * turns
    left = owner_sql.execute(
        "SELECT count(*) AS n FROM ai_agent_turn_reservations WHERE workspace_id = %s",
        (workspace,),
    ).fetchone()
    given_up = [
        r
        for r in caplog.records
        if r.getMessage()
        in (
            "turn reservation not released; it lapses by itself",
            "a failed turn's usage was not charged",
        )
    ]
    assert left is not None and left["n"] <= len(given_up), (left, len(given_up), statuses)


# Invisible, yet no format character (Cf), which the PII normaliser already dropped.
INVISIBLE = [
    "\u034f",  # combining grapheme joiner
    "\u115f",
    "\u1160",
    "\u3164",
    "\uffa0",  # Hangul fillers
    "\u17b4",
    "\u17b5",  # Khmer inherent vowels
    "\u180b",
    "\u180f",
    "\ufe00",
    "\ufe0f",
    "\U000e0100",  # variation selectors
    "\u2065",
    "\ufff0",  # unassigned, default-ignorable
]


@pytest.mark.parametrize("invisible", INVISIBLE, ids=lambda c: f"U+{ord(c):04X}")
def test_redaction_reads_past_invisible_characters(invisible: str) -> None:
    from convoship.runtime.pii import redact_text

    entities = ["EMAIL", "CREDIT_CARD", "US_SSN", "IP_ADDRESS", "PHONE"]
    for text in (
        "card 4111{0}1111{0}1111{0}1111",
        "ssn 078{0}-05-{0}1120",
        "ip 10.1{0}.2.3",
        "call +1 415 555{0} 2671",
        "mail jane{0}.doe@exa{0}mple.com",
    ):
        redacted, found = redact_text(text.format(invisible), entities)
        assert found == 1, redacted
        assert not any(ch.isdigit() for ch in redacted) and "@" not in redacted, redacted


def test_a_card_spelt_with_invisible_joiners_is_not_stored(
    api: ApiClient, editor: str, public: str, fake_llm: Any, owner_sql: Conn
) -> None:
    set_guardrail(api, editor, "REDACT", entities=["CREDIT_CARD"])
    assert publish(api, editor).status == 201
    card = "\u034f".join(["4111", "1111", "1111", "1111"])
    answer = embed(api, public, f"my card is {card}")
    assert answer.status == 200, answer.text
    stored = " ".join(m["content"] for m in transcript(owner_sql, answer.json()["conversation_id"]))
    assert "[CREDIT_CARD]" in stored and "4111" not in stored, stored


@pytest.mark.parametrize(
    "body",
    [
        b'\xef\xbb\xbf{"message": "hi"}',  # a UTF-8 byte order mark
        '{"message": "hi"}'.encode("utf-16"),
        '{"message": "hi"}'.encode("utf-32-le"),
        b'{"message": "a", "message": "b"}',
        b'{"message": "hi", "conversation_id": 1e999}',
        b'{"message": "hi", "conversation_id": {"$gt": ""}}',
        b'{"message": "hi\\u0000"}',
        b'{"message": "\\udbff\\udfff"}',  # a valid pair: U+10FFFF
        b'{"message": "\xed\xa0\x80"}',  # CESU-8 of a lone surrogate: not UTF-8
        b'{"message": "\xc0\xae"}',  # an overlong encoding
        b'{"message": "\xff"}',
        b'{"message": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        b'{"message": "' + b"a" * 3_000_000 + b'"}',
        b'{"message": "hi"} trailing',
        b"",
        b"null",
        b'"hi"',
    ],
    ids=lambda b: repr(b[:24]),
)
def test_hostile_bodies_never_500_nor_hold_anything(
    api: ApiClient, public: str, fake_llm: Any, owner_sql: Conn, workspace: Any, body: bytes
) -> None:
    assert embed(api, public, "hello").status == 200  # the token is kept: reads reserve
    turns = count(
        owner_sql, "SELECT count(*) FROM ai_agent_messages WHERE workspace_id = %s", workspace
    )
    answer = api.post(
        f"/v1/embed/{public}/chat", data=body, headers={"content-type": "application/json"}
    )
    assert answer.status < 500, answer.text[:500]
    assert reservations(owner_sql, workspace) == 0
    after = count(
        owner_sql, "SELECT count(*) FROM ai_agent_messages WHERE workspace_id = %s", workspace
    )
    assert after in (turns, turns + 2)


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("origin", "o" * 2049),
        ("x-visitor-token", "t" * 4097),
        ("x-visitor-token", "a.b.c"),
        ("x-visitor-token", "\x00"),
        ("origin", "\x7f"),
    ],
)
def test_hostile_headers_never_500(
    api: ApiClient,
    public: str,
    fake_llm: Any,
    owner_sql: Conn,
    workspace: Any,
    header: str,
    value: str,
) -> None:
    assert embed(api, public, "hello").status == 200
    try:
        answer = api.post(
            f"/v1/embed/{public}/chat", json={"message": "hi"}, headers={header: value}
        )
    except (ValueError, UnicodeError):
        return
    assert answer.status < 500, answer.text[:500]
    assert reservations(owner_sql, workspace) == 0


def _reserve_published(app_sql: Conn, ids: dict[str, Any], **overrides: Any) -> Any:
    from tests.support.seed import act_as_embed

    params: dict[str, Any] = {
        "id": uuid.uuid4(),
        "ws": ids["workspace"],
        "agent": ids["agent"],
        "version": 1,
        "conv": ids["conversation"],
        "existing": True,
        "bytes": 10,
        "texts": 2,
        "max_output": 8,
        "history": 50,
        "escalates": False,
        "turns": None,
        "conv_tokens": None,
        "day_tokens": None,
        "ttl": 60,
        **overrides,
    }
    with app_sql.transaction():
        act_as_embed(app_sql, ids["public_token"])
        return app_sql.execute(
            "SELECT * FROM reserve_published_turn(%(id)s, %(ws)s, %(agent)s,"
            " %(version)s::integer, %(conv)s, %(existing)s, %(bytes)s::bigint, %(texts)s,"
            " %(max_output)s::bigint, %(history)s, %(escalates)s, %(turns)s, %(conv_tokens)s,"
            " %(day_tokens)s, %(ttl)s)",
            params,
        ).fetchone()


@pytest.mark.parametrize(
    "overrides",
    [
        {"bytes": -1_000_000},  # a negative estimate would lower what the day holds
        {"max_output": -1_000_000},
        {"texts": -1_000_000},
        {"max_output": 2**63 - 1},  # overflow
        {"history": -1},
        {"ttl": 100_000},
        {"ttl": 0},
    ],
    ids=str,
)
def test_raw_sql_cannot_reserve_a_negative_or_unbounded_turn(
    app_sql: Conn, owner_sql: Conn, workspace: Any, overrides: dict[str, Any]
) -> None:
    from tests.support.seed import seed_graph

    ids = seed_graph(owner_sql, workspace)
    before = reservations(owner_sql, workspace)
    with pytest.raises(psycopg.Error):
        _reserve_published(app_sql, ids, **overrides)
    app_sql.rollback()
    assert reservations(owner_sql, workspace) == before


def test_raw_sql_reserves_the_published_turn_it_is_asked_for(
    app_sql: Conn, owner_sql: Conn, workspace: Any
) -> None:
    """The control of the test above: the same call, unaltered, reserves."""
    from tests.support.seed import seed_graph

    ids = seed_graph(owner_sql, workspace)
    row = _reserve_published(app_sql, ids)
    assert row is not None and row["verdict"] == "reserved" and row["tokens"] > 8


def test_raw_sql_reads_through_the_reservation_only_the_messages_its_token_may_read(
    app_sql: Conn, owner_sql: Conn, workspace: Any, other_workspace: Any
) -> None:
    """The reservation returns the conversation (migration 0016) as its caller reads it:
    its own agent's embed conversation, the recent user and assistant messages only, oldest
    first; another tenant's conversation or a playground one, named by id, gives nothing,
    whatever the verdict."""
    from tests.support.seed import seed_graph

    ids = seed_graph(owner_sql, workspace)
    theirs = seed_graph(owner_sql, other_workspace)
    for seq, role, content in [(2, "assistant", "hi there"), (3, "tool", "secret-ish"),
                               (4, "user", "ünïcödé \"quoted\"\n")]:  # fmt: skip
        owner_sql.execute(
            "INSERT INTO ai_agent_messages (workspace_id, conversation_id, seq, role, content)"
            " VALUES (%s, %s, %s, %s, %s)",
            (workspace, ids["conversation"], seq, role, content),
        )
    mine = _reserve_published(app_sql, ids)
    assert mine is not None and mine["verdict"] == "reserved"
    assert mine["conversation_found"] is True
    assert (mine["conversation_status"], mine["conversation_turns"]) == ("active", 0)
    assert mine["conversation_usage"] == {"input_tokens": 0, "output_tokens": 0}
    assert mine["conversation_visitor"] is None
    assert mine["history"] == [
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": "hi there"},
        {"role": "user", "content": 'ünïcödé "quoted"\n'},
    ]
    last_two = _reserve_published(app_sql, ids, history=2)
    assert last_two is not None and [m["content"] for m in last_two["history"]] == [
        "hi there",
        'ünïcödé "quoted"\n',
    ]
    stale = _reserve_published(app_sql, ids, version=7)
    assert stale is not None and stale["verdict"] == "stale" and len(stale["history"]) == 3
    for conversation in [theirs["conversation"], ids["playground_conversation"]]:
        other = _reserve_published(app_sql, {**ids, "conversation": conversation})
        assert other is not None and other["verdict"] == "not-found"
        assert other["conversation_found"] is False and other["conversation_status"] is None
        assert other["history"] == []
    new = _reserve_published(app_sql, {**ids, "conversation": uuid.uuid4()}, existing=False)
    assert new is not None and new["verdict"] == "reserved"
    assert new["conversation_found"] is None and new["history"] is None


def test_raw_sql_cannot_hold_another_visitors_conversation_by_calling_it_new(
    app_sql: Conn, owner_sql: Conn, workspace: Any
) -> None:
    """A conversation bound to visitor v1 (LIMIT: 2 turns, 1 used). Said to be new
    (p_existing false), a reservation on its id skips the visitor check, yet counts among the
    conversation's held turns: v1's own next turn is then refused for RESERVATION_TTL_S."""
    from tests.support.seed import act_as_embed, seed_graph

    ids = seed_graph(owner_sql, workspace)
    row = owner_sql.execute(
        "INSERT INTO ai_agent_conversations (workspace_id, agent_id, channel, turns,"
        " visitor_sub) VALUES (%s, %s, 'embed', 1, 'v1') RETURNING id",
        (workspace, ids["agent"]),
    ).fetchone()
    assert row is not None
    ids = {**ids, "conversation": row["id"]}
    squatted = _reserve_published(app_sql, ids, existing=False, turns=2, ttl=300)
    assert squatted is not None
    with app_sql.transaction():
        act_as_embed(app_sql, ids["public_token"])
        row = app_sql.execute(
            "SELECT reserve_chat_turn(gen_random_uuid(), %s, %s, 'embed', %s, true, 'v1', 10,"
            " 2, NULL, NULL, 60) AS verdict",
            (ids["workspace"], ids["agent"], ids["conversation"]),
        ).fetchone()
    assert squatted["verdict"] != "reserved" or row == {"verdict": "reserved"}, (squatted, row)


def test_the_contracts_order_holds_on_a_kept_token(
    api: ApiClient,
    editor: str,
    admin: str,
    public: str,
    fake_llm: Any,
    owner_sql: Conn,
    workspace: Any,
) -> None:
    """RPM, then AUTH, then the conversation, then LIMIT, on turns whose read may reserve."""
    set_guardrail(api, editor, "AUTH", allowed_origins=["https://shop.example.com"])
    set_guardrail(api, editor, "LIMIT", max_input_chars=10, max_turns_per_conversation=2)
    assert publish(api, editor).status == 201
    shop = {"origin": "https://shop.example.com"}
    conv = embed(api, public, "hello", **shop).json()["conversation_id"]
    assert embed(api, public, "again", conv, **shop).status == 200  # at its turn cap now
    unknown = str(uuid.uuid4())
    evil = {"origin": "https://evil.example.net"}
    problem_of(embed(api, public, "x" * 50, unknown, **evil), 403, "origin-not-allowed")
    problem_of(embed(api, public, "x" * 50, unknown, **shop), 404, "not-found")
    problem_of(embed(api, public, "x" * 50, conv, **shop), 413, "payload-too-large")
    problem_of(embed(api, public, "short", conv, **shop), 422, "validation")
    set_threshold(api, admin, 0, rpm=1)  # the kept settings still say 1,000
    problem_of(embed(api, public, "x" * 50, unknown, **evil), 429, "rate-limited")
    assert reservations(owner_sql, workspace) == 0


def test_parallel_turns_with_failing_models_keep_the_daily_budget(
    api: ApiClient, editor: str, public: str, fake_llm: Any, owner_sql: Conn, workspace: Any
) -> None:
    from convoship.chat.reservation import estimate_input_tokens
    from convoship.runtime.snapshot import AgentSnapshot

    assert embed(api, public, "warm").status == 200
    budget = daily_tokens(owner_sql, workspace) + 300
    set_guardrail(api, editor, "BUDGET", max_tokens_per_day=budget)
    assert publish(api, editor).status == 201
    assert embed(api, public, "warm again").status == 200  # keeps the new version
    fake_llm.delay_s = 0.02
    kinds = ["fail:garbage {}", "fail:500 {}", "question number {} here"]
    messages = [kinds[i % 3].format(f"{i:02d}") for i in range(18)]
    responses = all_at_once([lambda m=m: embed(api, public, m) for m in messages])
    statuses = [r.status for r in responses]
    assert set(statuses) <= {200, 429, 502}, statuses
    snapshot = AgentSnapshot.of({"system_prompt": SYSTEM_PROMPT}, [], [])
    overrun = sum(
        max(0, r.json()["usage"]["input_tokens"] - estimate_input_tokens(snapshot, [], m))
        + max(0, r.json()["usage"]["output_tokens"] - MAX_OUTPUT)
        for m, r in zip(messages, responses, strict=True)
        if r.status == 200
    )
    assert daily_tokens(owner_sql, workspace) <= budget + overrun, statuses
    assert reservations(owner_sql, workspace) == 0
