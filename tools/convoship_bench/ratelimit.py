"""Rate limiting on the bench's Redis: check_agent_rpm against a raw pipelined loop.

The floor is a raw loop of pipelined INCR + EXPIRE (transaction=False: one round trip per
check) with redis-py on the same unix socket: the cheapest one-trip count, though not an
atomic one. check_agent_rpm runs a script (INCR and EXPIRE in one atomic step, EVALSHA), so
a raw EVALSHA loop of the same script is shown beside it too, for what the script itself
costs. Throughput is checks per second over a round of `checks` calls of each; within a
round the loops alternate check by check (A B A B ..., each call timed), so all see the same
load however fast it changes, and verdicts are on the median of the rounds' paired ratios.
The table shows the median round with min and max. Redis round trips per check are
counted on the wire by wire.CountingProxy. The server's INCR/INCRBY counter proves which
path each phase took (a silent fallback to in-process counting would otherwise look very fast).

check_agent_rpm (DESIGN.md: `check_agent_rpm(agent_id, channel, cap)`) is imported from
convoship.runtime.ratelimit when it exists; until then its rows say "not built yet". It reads
REDIS_URL through convoship.settings; between phases the bench calls reset_settings() and
the module's `reset`/`reset_client`/`clear_caches` when present, so a cached client follows
the new URL. Fallback mode is REDIS_URL unset: in-process counters in development (the
bench's stage), a shared PostgreSQL counter in production (one row per agent and channel;
its row is measured too, on an agent seeded for it).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import redis

from convoship.core import constants as env
from convoship_bench.ratelimit_loops import (
    IncrWitness,
    find_check_agent_rpm,
    incr_calls,
    interleaved_throughput,
    limiter_script,
    point_redis_at,
    raw_check,
    raw_script_check,
    round_trips,
    rpm_check,
)
from convoship_bench.report import ERROR, NOT_BUILT, Row, Target
from convoship_bench.stack import BenchStack
from convoship_bench.stats import Summary, paired
from convoship_bench.warm import use_environment
from convoship_bench.wire import CountingProxy

SECTION = "rate limiting (Redis)"
THROUGHPUT_TARGET = Target("ratio_min", 0.8)
ROUND_TRIP_TARGET = Target("value_max", 1, stat="max")
RAW = "raw pipelined INCR+EXPIRE loop"
RAW_SCRIPT = "raw EVALSHA loop (the limiter's script)"
RPM = "check_agent_rpm"
FALLBACK = "check_agent_rpm, fallback (REDIS_URL unset)"
PG_FALLBACK = "check_agent_rpm, production fallback (PostgreSQL)"


def measure(
    stack: BenchStack,
    *,
    rounds: int,
    checks: int,
    deadline_s: float = 60.0,
    check_agent_rpm: Callable[..., Any] | None = None,
) -> list[Row]:
    """Rows for the raw floor and check_agent_rpm (found by import unless given)."""
    fn = check_agent_rpm or find_check_agent_rpm()
    use_environment(stack.app_env())
    client = redis.Redis.from_url(stack.redis_url, socket_timeout=2, socket_connect_timeout=2)
    proxy_path = stack.work_dir / "redis-proxy.sock"
    rows: dict[str, Row] = {}
    try:
        witness = IncrWitness(client)
        contenders = {RAW: raw_check(client, f"bench:rpm:{uuid.uuid4()}")}
        script = limiter_script()
        if script is not None:
            contenders[RAW_SCRIPT] = raw_script_check(client, f"bench:rpm:{uuid.uuid4()}", script)
        if fn is not None:
            point_redis_at(stack.redis_url)
            contenders[RPM] = rpm_check(fn)
        try:
            rates = interleaved_throughput(
                contenders, rounds=rounds, per_round=checks, deadline_s=deadline_s
            )
            witness.expect(sum(s.n for s in rates.values()) * checks, "raw loop + check_agent_rpm")
        except Exception as exc:  # check_agent_rpm failed or took the wrong path: report it
            if fn is None:
                raise
            rows[f"{RPM}: checks/s"] = _error(f"{RPM}: checks/s", exc)
            rates = interleaved_throughput(
                {RAW: contenders[RAW]}, rounds=rounds, per_round=checks, deadline_s=deadline_s
            )
        raw_rate = rates[RAW]
        rows[f"{RAW}: checks/s"] = Row(
            SECTION,
            f"{RAW}: checks/s",
            "per_s",
            raw_rate,
            note="the floor for check_agent_rpm; no target of its own",
        )
        if RAW_SCRIPT in rates:
            name = f"{RAW_SCRIPT}: checks/s"
            rows[name] = Row(
                SECTION,
                name,
                "per_s",
                rates[RAW_SCRIPT],
                "raw loop",
                raw_rate,
                note="INCR and EXPIRE atomic, one trip: what check_agent_rpm sends",
            )
        if RPM in rates:
            name = f"{RPM}: checks/s"
            rows[name] = Row(
                SECTION, name, "per_s", rates[RPM], "raw loop", raw_rate, THROUGHPUT_TARGET
            )
            rows[name].ratios = paired(list(rates[RPM].samples), list(raw_rate.samples))
            if RAW_SCRIPT in rates:
                name = f"{RPM}: checks/s against the raw EVALSHA loop"
                rows[name] = Row(
                    SECTION, name, "per_s", rates[RPM], "raw EVALSHA loop", rates[RAW_SCRIPT]
                )
        with CountingProxy(stack.redis_socket, proxy_path) as proxy:
            proxied = redis.Redis(unix_socket_path=str(proxy_path), socket_timeout=2)
            trips = round_trips(proxy, raw_check(proxied, f"bench:rpm:{uuid.uuid4()}"), rounds)
            proxied.close()
            witness.before = incr_calls(client)
            name = f"{RAW}: Redis round trips/check"
            rows[name] = Row(SECTION, name, "count", trips, target=ROUND_TRIP_TARGET)
            if fn is not None:
                rows.update(_rpm_rows(fn, stack, proxy, witness, raw_rate, rounds, checks))
    finally:
        point_redis_at(stack.redis_url)
        client.close()
    if fn is None:
        for name, target in (
            (f"{RPM}: checks/s", THROUGHPUT_TARGET),
            (f"{FALLBACK}: checks/s", None),
        ):
            rows[name] = Row(
                SECTION, name, "per_s", None, "raw loop", raw_rate, target, status=NOT_BUILT
            )
        name = f"{RPM}: Redis round trips/check"
        rows[name] = Row(SECTION, name, "count", None, target=ROUND_TRIP_TARGET, status=NOT_BUILT)
    order = [
        f"{RAW}: checks/s",
        f"{RAW}: Redis round trips/check",
        f"{RAW_SCRIPT}: checks/s",
        f"{RPM}: checks/s",
        f"{RPM}: checks/s against the raw EVALSHA loop",
        f"{RPM}: Redis round trips/check",
        f"{FALLBACK}: checks/s",
        f"{PG_FALLBACK}: checks/s",
    ]
    return [rows[name] for name in order if name in rows]


def _error(name: str, exc: BaseException) -> Row:
    return Row(SECTION, name, "count", None, status=ERROR, note=f"{type(exc).__name__}: {exc}")


def _rpm_rows(
    fn: Callable[..., Any],
    stack: BenchStack,
    proxy: CountingProxy,
    witness: IncrWitness,
    raw_rate: Summary,
    rounds: int,
    checks: int,
) -> dict[str, Row]:
    rows: dict[str, Row] = {}
    name = f"{RPM}: Redis round trips/check"
    try:
        point_redis_at(f"unix://{proxy.listen}")
        trips = round_trips(proxy, rpm_check(fn), rounds)
        witness.expect(trips.n + 1, "check_agent_rpm through the proxy")
        rows[name] = Row(SECTION, name, "count", trips, target=ROUND_TRIP_TARGET)
    except Exception as exc:  # report it, do not crash the run
        rows[name] = _error(name, exc)
    name = f"{FALLBACK}: checks/s"
    try:
        point_redis_at(None)
        fallback = interleaved_throughput(
            {FALLBACK: rpm_check(fn)}, rounds=rounds, per_round=checks, deadline_s=30
        )[FALLBACK]
        witness.expect(0, "check_agent_rpm with REDIS_URL unset")
        rows[name] = Row(
            SECTION,
            name,
            "per_s",
            fallback,
            "raw loop",
            raw_rate,
            note="in-process counters: what an outage costs per check (no timeout)",
        )
    except Exception as exc:  # report it, do not crash the run
        rows[name] = _error(name, exc)
    finally:
        point_redis_at(stack.redis_url)
    rows.update(_postgres_fallback_rows(fn, stack, witness, raw_rate, rounds, checks))
    return rows


def _postgres_fallback_rows(
    fn: Callable[..., Any],
    stack: BenchStack,
    witness: IncrWitness,
    raw_rate: Summary,
    rounds: int,
    checks: int,
) -> dict[str, Row]:
    """Production with REDIS_URL unset: every check is one statement on PostgreSQL."""
    name = f"{PG_FALLBACK}: checks/s"
    try:
        from convoship.runtime.ratelimit_postgres import CounterScope
    except ImportError:
        return {}
    workspace = uuid.uuid4()
    with psycopg.connect(stack.database.owner_admin_url, autocommit=True) as admin:
        admin.execute("INSERT INTO workspaces (id, name) VALUES (%s, 'bench rpm')", (workspace,))
        row = admin.execute(
            "INSERT INTO ai_agents (workspace_id, slug, name, public_token)"
            " VALUES (%s, 'rpm', 'rpm', %s) RETURNING id",
            (workspace, f"bench-rpm-{uuid.uuid4().hex}"),
        ).fetchone()
    assert row is not None
    scope = CounterScope(workspace, {"workspace_id": workspace})
    os.environ[env.STAGE] = "production"
    dev_signing_key = os.environ.pop(env.AUDIT_DEV_SIGNING_KEY, None)  # refused in production
    try:
        point_redis_at(None)
        fallback = interleaved_throughput(
            {PG_FALLBACK: lambda: fn(row[0], "playground", 1_000_000_000, scope=scope)},
            rounds=rounds,
            per_round=max(1, checks // 10),
            deadline_s=30,
        )[PG_FALLBACK]
        witness.expect(0, "check_agent_rpm in production with REDIS_URL unset")
        return {
            name: Row(
                SECTION,
                name,
                "per_s",
                fallback,
                "raw loop",
                raw_rate,
                note="one PostgreSQL round trip per check, shared by every container",
            )
        }
    except Exception as exc:  # report it, do not crash the run
        return {name: _error(name, exc)}
    finally:
        os.environ[env.STAGE] = "test"
        if dev_signing_key is not None:
            os.environ[env.AUDIT_DEV_SIGNING_KEY] = dev_signing_key
        point_redis_at(stack.redis_url)
