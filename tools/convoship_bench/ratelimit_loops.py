"""The loops and probes of the rate-limit bench: raw Redis loops (the floors), a caller of
check_agent_rpm, interleaved throughput rounds, round trips through the counting proxy, and a
witness of the INCRs the server really ran (a silent fallback would look very fast)."""

from __future__ import annotations

import importlib
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

import redis

from convoship_bench.stats import Summary
from convoship_bench.wire import CountingProxy

_RESET_HOOKS = ("reset", "reset_client", "clear_caches")

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


def raw_script_check(client: redis.Redis, key: str, script: str) -> Check:
    sha = client.script_load(script)
    return lambda: client.evalsha(sha, 1, key, 120, 0)


def rpm_check(fn: Callable[..., Any]) -> Check:
    agent_id = str(uuid.uuid4())
    return lambda: fn(agent_id, "public", 1_000_000_000)


def interleaved_throughput(
    checks: dict[str, Check], *, rounds: int, per_round: int, deadline_s: float
) -> dict[str, Summary]:
    """Checks per second of each callable over rounds of per_round calls each, the callables
    taking turns call by call (the order flipped every call), each call timed: all see the
    same load however fast it changes, and round i of one pairs with round i of another."""
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


def point_redis_at(url: str | None) -> None:
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


def limiter_script() -> str | None:
    try:
        module = importlib.import_module("convoship.runtime.ratelimit")
    except ImportError:
        return None
    script = getattr(module, "COUNT_SCRIPT", None)
    return script if isinstance(script, str) else None
