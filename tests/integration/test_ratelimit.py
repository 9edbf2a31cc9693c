"""check_agent_rpm on a real Redis, shared across callers, degrading when Redis is down:
to PostgreSQL in production (shared by every container), in-process in development."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from convoship.core import constants as env
from convoship.core.errors import ServiceUnavailable
from convoship.core.settings import reset_settings
from convoship.db.connection import close_all
from convoship.runtime import ratelimit
from convoship.runtime.ratelimit_postgres import CounterScope
from tests.support.agents import Conn
from tests.support.seed import seed_graph


@pytest.fixture(autouse=True)
def fresh_limiter() -> Iterator[None]:
    ratelimit.reset()
    yield
    ratelimit.reset()


def test_cap_is_enforced_per_agent_and_channel() -> None:
    agent = uuid.uuid4()
    decisions = [ratelimit.check_agent_rpm(agent, "embed", 3) for _ in range(4)]
    assert [d.allowed for d in decisions if d] == [True, True, True, False]
    assert [d.remaining for d in decisions if d] == [2, 1, 0, 0]
    denied = decisions[-1]
    assert denied is not None and 1 <= denied.retry_after_s <= 61
    other_channel = ratelimit.check_agent_rpm(agent, "playground", 3)
    assert other_channel is not None and other_channel.allowed
    assert ratelimit.check_agent_rpm(agent, "playground", None) is None
    assert ratelimit.check_agent_rpm(agent, "playground", 0) is None


def test_counts_are_shared_through_redis() -> None:
    agent = uuid.uuid4()
    assert ratelimit.check_agent_rpm(agent, "embed", 2).allowed  # type: ignore[union-attr]
    ratelimit.reset()  # a second replica: new client, empty in-process state
    assert ratelimit.check_agent_rpm(agent, "embed", 2).allowed  # type: ignore[union-attr]
    ratelimit.reset()
    assert not ratelimit.check_agent_rpm(agent, "embed", 2).allowed  # type: ignore[union-attr]


def test_redis_down_degrades_to_in_process_counting_without_stalling(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.setenv("REDIS_URL", f"unix://{tmp_path}/nothing-here.sock")
    reset_settings()
    attempts: list[object] = []
    real_redis = ratelimit._redis

    def counting_redis() -> object:
        attempts.append(1)
        return real_redis()

    monkeypatch.setattr(ratelimit, "_redis", counting_redis)
    agent = uuid.uuid4()
    decisions = [ratelimit.check_agent_rpm(agent, "embed", 2) for _ in range(3)]
    assert [d.allowed for d in decisions if d] == [True, True, False]
    assert len(attempts) == 1  # backed off: later requests did not try Redis again


def test_a_key_never_lives_without_a_ttl_and_survives_an_empty_restart(redis_url: str) -> None:
    import redis

    agent = uuid.uuid4()
    server = redis.Redis.from_url(redis_url)
    for _ in range(3):
        ratelimit.check_agent_rpm(agent, "embed", 5)
    (key,) = server.keys(f"rpm:{agent}:embed:*")
    assert 0 < server.ttl(key) <= 2 * ratelimit.WINDOW_S  # set in the INCR's own step
    server.delete(key)  # Redis restarted empty mid-minute
    decision = ratelimit.check_agent_rpm(agent, "embed", 5)
    assert decision is not None and decision.remaining == 1  # the 4th request, not the 1st
    assert 0 < server.ttl(key) <= 2 * ratelimit.WINDOW_S
    server.close()


@pytest.fixture
def production_without_redis(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    """Production, Redis unreachable; returns the RateLimiterDegraded metrics emitted."""
    monkeypatch.setenv(env.STAGE, "production")
    monkeypatch.delenv(env.AUDIT_DEV_SIGNING_KEY, raising=False)  # refused in production
    monkeypatch.setenv(env.REDIS_URL, f"unix://{tmp_path}/nothing-here.sock")
    reset_settings()
    emitted: list[str] = []
    monkeypatch.setattr(
        ratelimit.metrics, "add_metric", lambda name, **kwargs: emitted.append(name)
    )
    return emitted


def test_production_counts_in_postgres_shared_by_every_container(
    production_without_redis: list[str],
    owner_sql: Conn,
    workspace: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ids = seed_graph(owner_sql, workspace)
    embed = CounterScope(workspace, {"public_token": ids["public_token"]})
    playground = CounterScope(workspace, {"workspace_id": workspace})
    allowed = []
    with caplog.at_level("WARNING"):
        for container in range(3):  # three containers, one request each...
            if container:
                ratelimit.reset()  # a new container: no client, no back-off, no counts
            allowed.append(ratelimit.check_agent_rpm(ids["agent"], "embed", 4, scope=embed))
        for _ in range(2):  # ...then the last one serves two more
            allowed.append(ratelimit.check_agent_rpm(ids["agent"], "embed", 4, scope=embed))
        other = ratelimit.check_agent_rpm(ids["agent"], "playground", 4, scope=playground)
    assert [d.allowed for d in allowed if d] == [True, True, True, True, False]
    assert other is not None and other.allowed and other.remaining == 3  # its own channel
    warnings = [r for r in caplog.records if r.getMessage().startswith("rate limiter degraded")]
    # One warning and one metric per back-off: one per container here.
    assert len(warnings) == 3 == production_without_redis.count("RateLimiterDegraded")
    row = owner_sql.execute(
        "SELECT counted, redis_seen FROM ai_agent_rate_counters WHERE agent_id = %s"
        " AND channel = 'embed'",
        (ids["agent"],),
    ).fetchone()
    assert row == {"counted": 5, "redis_seen": 0}


def test_production_fails_closed_when_nothing_can_count(
    production_without_redis: list[str], owner_sql: Conn, workspace: Any, monkeypatch: Any
) -> None:
    agent = uuid.uuid4()
    with pytest.raises(ServiceUnavailable):  # no shared counter to fall back on
        ratelimit.check_agent_rpm(agent, "embed", 4)
    monkeypatch.setenv(env.DATABASE_URL, "postgresql:///nothing?host=/nonexistent")
    reset_settings()
    close_all()
    with pytest.raises(ServiceUnavailable):  # PostgreSQL down too
        ratelimit.check_agent_rpm(
            agent, "embed", 4, scope=CounterScope(workspace, {"workspace_id": workspace})
        )


def _degraded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    reasons: list[str] = []
    monkeypatch.setattr(ratelimit, "_back_off", lambda reason: reasons.append(reason))
    return reasons


def _counted(how: str, agent: uuid.UUID) -> int:
    """One request counted as check_agent_rpm counts it, or sent and its reply read after."""
    if how == "checked":
        return 5 - ratelimit.check_agent_rpm(agent, "embed", 5).remaining  # type: ignore[union-attr]
    return ratelimit.send_agent_rpm_count(agent, "embed").result().count


@pytest.mark.parametrize("how", ["checked", "sent"])
def test_the_limiters_connection_killed_while_idle_is_replaced_without_degrading(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    import redis

    reasons = _degraded(monkeypatch)
    agent = uuid.uuid4()
    assert _counted(how, agent) == 1
    server = redis.Redis.from_url(redis_url)
    killed = server.client_kill_filter(_id=None, _type="normal", skipme=True)
    assert killed >= 1  # the limiter's kept connection among them
    # Counted on a new connection, not in the degraded path, and nothing counted twice.
    assert _counted(how, agent) == 2
    assert _counted(how, agent) == 3
    assert reasons == [] and not ratelimit._line._lock.locked()
    server.close()


def test_a_reply_lost_on_a_kept_connection_is_counted_again_on_a_new_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from redis.exceptions import ConnectionError as RedisConnectionError

    reasons = _degraded(monkeypatch)
    agent = uuid.uuid4()
    assert _counted("sent", agent) == 1
    sent = ratelimit.send_agent_rpm_count(agent, "embed")  # Redis counts it: 2

    def lost() -> None:
        raise RedisConnectionError("Connection closed by server.")

    monkeypatch.setattr(ratelimit._line._conn, "read_response", lost)
    assert sent.result().count == 3  # once more, on a new connection: high, never low
    assert reasons == [] and not ratelimit._line._lock.locked()
    assert _counted("sent", agent) == 4


@pytest.mark.parametrize("how", ["checked", "sent"])
def test_a_server_without_the_script_gets_it_on_the_limiters_connection(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    import redis

    reasons = _degraded(monkeypatch)
    agent = uuid.uuid4()
    _counted(how, agent)
    redis.Redis.from_url(redis_url).script_flush()  # a restarted server
    assert _counted(how, agent) == 2
    assert _counted(how, agent) == 3
    assert reasons == [] and not ratelimit._line._lock.locked()


def test_a_second_thread_counts_through_the_pool_while_the_line_is_busy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reasons = _degraded(monkeypatch)
    agent = uuid.uuid4()
    ratelimit.check_agent_rpm(agent, "embed", 5)
    line = ratelimit._line
    with line._lock:  # another thread is mid-command on the limiter's connection
        busy = ratelimit.check_agent_rpm(agent, "embed", 5)
    assert busy is not None and busy.remaining == 3
    assert ratelimit.check_agent_rpm(agent, "embed", 5).remaining == 2  # type: ignore[union-attr]
    assert reasons == []


def test_the_limiters_replies_are_parsed_by_hiredis() -> None:
    """hiredis is a runtime dependency (pyproject, the layer's requirements): redis-py reads
    every reply with its C parser, not the pure-Python one."""
    ratelimit.check_agent_rpm(uuid.uuid4(), "embed", 5)
    conn = ratelimit._line._conn
    assert conn is not None
    assert type(conn._parser).__name__ == "_HiredisParser"


def test_a_sent_count_answers_as_check_agent_rpm_does_and_the_pool_counts_meanwhile() -> None:
    agent = uuid.uuid4()
    first = ratelimit.send_agent_rpm_count(agent, "embed")
    assert first.foreseen.count == 1  # nothing seen yet this minute
    assert first.result().decide(5).remaining == 4  # type: ignore[union-attr]
    sent = ratelimit.send_agent_rpm_count(agent, "embed")  # Redis counts it as it arrives: 2
    assert sent.foreseen.count == 2
    assert ratelimit._line._lock.locked()  # held until its reply is read
    meanwhile = ratelimit.check_agent_rpm(agent, "embed", 5)  # through the pool: 3
    assert meanwhile is not None and meanwhile.remaining == 2
    assert sent.result().decide(5).remaining == 3  # type: ignore[union-attr]
    assert sent.result() is sent.result()  # read once
    assert not ratelimit._line._lock.locked()
    assert ratelimit.check_agent_rpm(agent, "embed", 5).remaining == 1  # type: ignore[union-attr]


def test_a_dropped_count_lets_go_of_the_line_and_no_later_count_reads_its_reply() -> None:
    agent = uuid.uuid4()
    ratelimit.check_agent_rpm(agent, "embed", 5)
    dropped = ratelimit.send_agent_rpm_count(agent, "embed")
    dropped.drop()  # a turn that ended before
    assert not ratelimit._line._lock.locked()
    with pytest.raises(RuntimeError):  # never counted a second time elsewhere
        dropped.result()
    # Redis counted the dropped request (2); the next count reads its own reply (3).
    assert ratelimit.check_agent_rpm(agent, "embed", 5).remaining == 2  # type: ignore[union-attr]
    assert ratelimit.send_agent_rpm_count(agent, "embed").result().count == 4


def test_a_count_sent_to_redis_that_is_down_degrades_when_it_is_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("REDIS_URL", f"unix://{tmp_path}/nothing-here.sock")
    reset_settings()
    reasons = _degraded(monkeypatch)
    agent = uuid.uuid4()
    sent = ratelimit.send_agent_rpm_count(agent, "embed")
    assert reasons == []  # the failure waits for the reply's reader
    assert sent.result().count == 1  # in-process, as in development
    assert len(reasons) == 1 and "ConnectionError" in reasons[0]
    assert not ratelimit._line._lock.locked()


def test_production_fails_closed_when_a_sent_count_cannot_be_counted(
    production_without_redis: list[str],
) -> None:
    sent = ratelimit.send_agent_rpm_count(uuid.uuid4(), "embed")  # no PostgreSQL scope
    with pytest.raises(ServiceUnavailable):
        sent.result()


def test_a_count_of_the_last_minute_read_late_leaves_this_minutes_alone() -> None:
    known = ratelimit._Known()
    known.saw("rpm:a:embed:101", 101, 7, in_redis=True)
    assert known.floor("rpm:a:embed:100", 100) == 0  # the last minute: nothing kept
    known.saw("rpm:a:embed:100", 100, 3, in_redis=True)  # its reply, read late
    assert known.floor("rpm:a:embed:101", 101) == 7
    assert known.from_redis("rpm:a:embed:101", 101) == 7
    known.saw("rpm:a:embed:102", 102, 1, in_redis=False)  # the next minute starts over
    assert known.floor("rpm:a:embed:101", 101) == 0


def test_connections_the_line_lost_do_not_use_up_the_clients_pool(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reasons = _degraded(monkeypatch)
    agent = uuid.uuid4()
    for _ in range(120):  # past the pool's 100: each drop closes the line's connection
        ratelimit.send_agent_rpm_count(agent, "embed").drop()
    assert _counted("sent", agent) == 121  # in Redis, every dropped count among them
    decision = ratelimit.check_agent_rpm(agent, "embed", 1000)
    assert decision is not None and decision.remaining == 1000 - 122
    assert reasons == []
