"""Rate limiting on the bench's Redis: check_agent_rpm against a raw pipelined loop.

The floor is a raw loop of pipelined INCR + EXPIRE (transaction=False: one round trip per
check) with redis-py on the same unix socket. Throughput is checks per second over a round
of `checks` calls of each; within a round the two alternate check by check (A B A B ...,
each call timed), so both see the same load however fast it changes, and the verdict is on
the median of the rounds' paired ratios. The table shows the median round with min and max.
Redis round trips per check are counted on the wire by wire.CountingProxy. The server's
INCR/INCRBY counter proves which path each phase took (a silent fallback to in-process
counting would otherwise look very fast).

check_agent_rpm (DESIGN.md: `check_agent_rpm(agent_id, channel, cap)`) is imported from
convoship.runtime.ratelimit when it exists; until then its rows say "not built yet". It reads
REDIS_URL through convoship.settings; between phases the bench calls reset_settings() and
the module's `reset`/`reset_client`/`clear_caches` when present, so a cached client follows
the new URL. Fallback mode is REDIS_URL unset.
"""

from __future__ import annotations

import importlib
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

import redis

from convoship_bench.report import ERROR, NOT_BUILT, Row, Target
from convoship_bench.stack import BenchStack
from convoship_bench.stats import Summary, paired
from convoship_bench.warm import use_environment
from convoship_bench.wire import CountingProxy

SECTION = "rate limiting (Redis)"
THROUGHPUT_TARGET = Target("ratio_min", 0.8)
ROUND_TRIP_TARGET = Target("value_max", 1, stat="max")
_RESET_HOOKS = ("reset", "reset_client", "clear_caches")
RAW = "raw pipelined INCR+EXPIRE loop"
RPM = "check_agent_rpm"
FALLBACK = "check_agent_rpm, fallback (REDIS_URL unset)"

Check = Callable[[], Any]


class WrongPath(RuntimeError):
    pass


def find_check_agent_rpm() -> Callable[..., Any] | None:
    try:
        module = importlib.import_module("convoship.runtime.ratelimit")
    except ImportError:
        return None
    fn = getattr(module, "check_agent_rpm", None)
    return fn if callable(fn) else None


def raw_check(client: redis.Redis, key: str) -> Check:
    def check() -> Any:
        pipe = client.pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, 120)
        return pipe.execute()

    return check


def rpm_check(fn: Callable[..., Any]) -> Check:
    agent_id = str(uuid.uuid4())
    return lambda: fn(agent_id, "public", 1_000_000_000)


def interleaved_throughput(
    checks: dict[str, Check], *, rounds: int, per_round: int, deadline_s: float
) -> dict[str, Summary]:
    """Checks per second of each callable over rounds of per_round calls each, the callables
    taking turns call by call (the order flipped every call), each call timed."""
    rates: dict[str, list[float]] = {name: [] for name in checks}
    contenders = list(checks.items())
    stop_at = time.monotonic() + deadline_s
    for _ in range(rounds):
        spent = dict.fromkeys(checks, 0.0)
        for i in range(per_round):
            for name, check in contenders if i % 2 == 0 else reversed(contenders):
                started = time.perf_counter()
                check()
                spent[name] += time.perf_counter() - started
        for name, seconds in spent.items():
            rates[name].append(per_round / seconds)
        if time.monotonic() > stop_at:
            break
    return {name: Summary.of(values) for name, values in rates.items()}


def round_trips(proxy: CountingProxy, check: Check, repeats: int) -> Summary:
    check()  # connect first: the handshake is not the check's cost
    counts = []
    for _ in range(repeats):
        proxy.reset()
        check()
        counts.append(proxy.snapshot().round_trips)
    return Summary.of(counts)


def incr_calls(client: redis.Redis) -> int:
    """INCR/INCRBY commands the server has run (redis-py sends incr() as INCRBY)."""
    stats: dict[str, Any] = client.info("commandstats")
    return sum(int((stats.get(f"cmdstat_{c}") or {}).get("calls", 0)) for c in ("incr", "incrby"))


class IncrWitness:
    """Checks that a phase ran exactly the INCRs it should have on the server."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.before = incr_calls(client)

    def expect(self, count: int, what: str) -> None:
        ran = incr_calls(self.client) - self.before
        if ran != count:
            raise WrongPath(f"{what}: Redis ran {ran} INCR for {count} expected")
        self.before = incr_calls(self.client)


def _point_redis_at(url: str | None) -> None:
    from convoship.core.settings import reset_settings

    if url is None:
        os.environ.pop("REDIS_URL", None)
    else:
        os.environ["REDIS_URL"] = url
    reset_settings()
    try:
        module = importlib.import_module("convoship.runtime.ratelimit")
    except ImportError:
        return
    for name in _RESET_HOOKS:
        hook = getattr(module, name, None)
        if callable(hook):
            hook()


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
        if fn is not None:
            _point_redis_at(stack.redis_url)
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
        if RPM in rates:
            name = f"{RPM}: checks/s"
            rows[name] = Row(
                SECTION, name, "per_s", rates[RPM], "raw loop", raw_rate, THROUGHPUT_TARGET
            )
            rows[name].ratios = paired(list(rates[RPM].samples), list(raw_rate.samples))
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
        _point_redis_at(stack.redis_url)
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
        f"{RPM}: checks/s",
        f"{RPM}: Redis round trips/check",
        f"{FALLBACK}: checks/s",
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
        _point_redis_at(f"unix://{proxy.listen}")
        trips = round_trips(proxy, rpm_check(fn), rounds)
        witness.expect(trips.n + 1, "check_agent_rpm through the proxy")
        rows[name] = Row(SECTION, name, "count", trips, target=ROUND_TRIP_TARGET)
    except Exception as exc:  # report it, do not crash the run
        rows[name] = _error(name, exc)
    name = f"{FALLBACK}: checks/s"
    try:
        _point_redis_at(None)
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
        _point_redis_at(stack.redis_url)
    return rows
