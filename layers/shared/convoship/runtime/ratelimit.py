"""Per-agent requests per minute, shared by every replica.

`check_agent_rpm` costs one Redis round trip: a script INCRs the key of the agent, channel
and clock minute and gives a new key its expiry in the same atomic step (EVALSHA, or EVAL
the first time a server lacks the script), so no key is ever left without a TTL. It is sent
on the limiter's own connection (`_Line`), not through redis-py's client call.
The script is sent first and its reply read when the count is asked for
(`send_agent_rpm_count`, `RpmCounting.result`): check_agent_rpm asks at once, an embed turn
after its read, so that the two round trips overlap. Failures are handled when the reply is
read, the same way for both.

When Redis is unset or cannot be reached, Redis is left alone for a short back-off (no
connect timeout on every request); each back-off emits one `RateLimiterDegraded` metric and
one warning, and the checks meanwhile are counted elsewhere:
- in production the count moves to PostgreSQL (ratelimit_postgres: one statement, the same
  minute, shared by every container), carrying the highest count this container saw from
  Redis in that minute;
- in development and tests (a single node) it is counted in-process.
Each container also remembers the highest count it saw per key this minute and passes it
to the script as a floor, so a Redis that comes back empty mid-minute does not start over.
A process that runs several requests at once (the threaded local runner; a Lambda container
runs one) may give two of them the same count while Redis fails: a count sent and not read
yet is not among those it saw, as another container's is not.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from convoship.core.errors import ServiceUnavailable
from convoship.core.observability import logger, metrics
from convoship.core.settings import get_settings
from convoship.core.snapstart import after_restore
from convoship.runtime.ratelimit_postgres import CounterScope, count_in_postgres

WINDOW_S = 60
REDIS_TIMEOUT_S = 0.25
BACKOFF_S = 5.0

# KEYS[1]: the minute's key; ARGV[1]: its TTL; ARGV[2]: the floor (a count already known).
COUNT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local floor = tonumber(ARGV[2])
if count <= floor then count = redis.call('INCRBY', KEYS[1], floor + 1 - count) end
return count
"""
# Redis names scripts by SHA-1 (EVALSHA): an identifier, not a security measure.
COUNT_SCRIPT_SHA = hashlib.sha1(COUNT_SCRIPT.encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class RpmDecision:
    allowed: bool
    limit: int
    remaining: int
    retry_after_s: int  # seconds until the window resets (meaningful when not allowed)


class _Known:
    """What this container saw of each key's count in the current minute: from Redis (the
    seed of a degraded count) and from anywhere (the floor of the next Redis count)."""

    def __init__(self) -> None:
        self._window = -1
        self._redis: dict[str, int] = {}
        self._any: dict[str, int] = {}
        self._lock = threading.Lock()

    def _current(self, window: int) -> bool:
        """Whether `window` is the minute kept (moving to it when it is a later one): a
        count of an earlier minute, read late, neither wipes nor feeds the current one."""
        if window > self._window:
            self._redis.clear()
            self._any.clear()
            self._window = window
        return window == self._window

    def floor(self, key: str, window: int) -> int:
        with self._lock:
            return self._any.get(key, 0) if self._current(window) else 0

    def from_redis(self, key: str, window: int) -> int:
        with self._lock:
            return self._redis.get(key, 0) if self._current(window) else 0

    def saw(self, key: str, window: int, count: int, *, in_redis: bool) -> None:
        with self._lock:
            if not self._current(window):
                return
            self._any[key] = max(self._any.get(key, 0), count)
            if in_redis:
                self._redis[key] = max(self._redis.get(key, 0), count)


class _InProcess:
    """Development only: counters of this process (a single node has no other)."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._window = -1
        self._lock = threading.Lock()

    def incr(self, key: str, window: int) -> int:
        with self._lock:
            if window != self._window:
                self._counts.clear()
                self._window = window
            self._counts[key] = self._counts.get(key, 0) + 1
            return self._counts[key]


_known = _Known()
_in_process = _InProcess()
_client: Any = None
_client_url: str | None = None
_redis_down_until = 0.0


def _redis() -> Any:
    global _client, _client_url
    url = get_settings().redis_url
    if not url:
        return None
    if _client is None or _client_url != url:
        import redis  # lazy: only rate-limited paths pay for it
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        _line.close()  # a connection to the server of another URL
        _client = redis.Redis.from_url(
            url,
            socket_timeout=REDIS_TIMEOUT_S,
            socket_connect_timeout=REDIS_TIMEOUT_S,
            retry=Retry(NoBackoff(), 0),  # a refused connection must not stall the request
            health_check_interval=0,
        )
        _client_url = url
    return _client


class _Line:
    """The limiter's own Redis connection, made by the client's pool (its TLS, password and
    timeouts) but held outside it: one command on it costs a seventh of the client's call
    (measured in a chat turn: 23 us against 180 us), which runs the pool's checks and
    redis-py's per-command instrumentation. A second thread meanwhile uses the pool."""

    def __init__(self) -> None:
        self._conn: Any = None
        self._lock = threading.Lock()

    def send(self, client: Any, key: str, floor: int) -> _InFlight | None:
        """The script sent on the line, its reply left to the `_InFlight` (read or dropped),
        which holds the line until then. None when another thread holds the line."""
        from redis.exceptions import ConnectionError as RedisConnectionError

        if not self._lock.acquire(blocking=False):
            return None
        kept = self._conn is not None
        try:
            try:
                self._send_on(client, key, floor)
            except RedisConnectionError:
                self.close()
                if not kept:
                    raise
                # A kept connection that died while the container idled (or was frozen):
                # once more, on a new one.
                kept = False
                self._send_on(client, key, floor)
        except BaseException:
            self.close()
            self._lock.release()
            raise
        return _InFlight(self, client, key, floor, kept=kept)

    def _send_on(self, client: Any, key: str, floor: int) -> None:
        conn = self._connection(client)
        conn.send_packed_command(
            conn.pack_command("EVALSHA", *_script_args(key, floor)), check_health=False
        )

    def _incr_once(self, client: Any, key: str, floor: int) -> int:
        try:
            return _incr_on(_Sent(self._connection(client)), key, floor)
        except BaseException:
            self.close()  # a half-read reply must not answer the next command
            raise

    def _connection(self, client: Any) -> Any:
        """The line's connection, made (not yet connected) as the client's pool makes its
        own but outside the pool's count: the pool's make_connection counts each against its
        100 and is never told of one the line closed, so after 100 connections lost (a
        dropped count, a timeout, a Redis outage's retries) every count would fail."""
        if self._conn is None:
            pool = client.connection_pool
            self._conn = pool.connection_class(**pool.connection_kwargs)
        return self._conn

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.disconnect()


class _InFlight:
    """A count sent on the line whose reply is not read yet: read exactly once (called), or
    dropped (`drop`: the connection closes, the reply unread, and Redis counted or not)."""

    def __init__(self, line: _Line, client: Any, key: str, floor: int, *, kept: bool) -> None:
        self._line, self._client, self._key, self._floor = line, client, key, floor
        self._conn = line._conn  # the connection it was sent on
        self._kept = kept
        self._held = True  # the line's lock, taken by send

    def __call__(self) -> int:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import NoScriptError

        conn, key, floor = self._conn, self._key, self._floor
        try:
            try:
                return int(conn.read_response())
            except NoScriptError:  # a new or restarted server: EVAL runs and caches it
                return int(_Sent(conn).eval(*_script_args(key, floor, source=True)))
        except RedisConnectionError:
            self._close()
            if not self._kept:
                raise
            # A kept connection that died while the container idled (or was frozen): once
            # more, on a new one. The first may have counted: the count errs high, never low.
            return self._line._incr_once(self._client, key, floor)
        except BaseException:
            self._close()  # a half-read reply must not answer the next command
            raise
        finally:
            self._let_go()

    def drop(self) -> None:
        if self._held:
            self._close()
            self._let_go()

    def _close(self) -> None:
        """Close the connection it was sent on (and the line's, if that is still it)."""
        if self._line._conn is self._conn:
            self._line.close()
        else:
            self._conn.disconnect()

    def _let_go(self) -> None:
        if self._held:
            self._held = False
            self._line._lock.release()


class _Sent:
    """evalsha/eval on one connection, as the client would send them."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def _call(self, *args: Any) -> Any:
        self._conn.send_packed_command(self._conn.pack_command(*args), check_health=False)
        return self._conn.read_response()

    def evalsha(self, *args: Any) -> Any:
        return self._call("EVALSHA", *args)

    def eval(self, *args: Any) -> Any:
        return self._call("EVAL", *args)


def _script_args(key: str, floor: int, *, source: bool = False) -> tuple[Any, ...]:
    """EVALSHA's arguments (EVAL's, with source=True): script, one key, the TTL, the floor."""
    return (COUNT_SCRIPT if source else COUNT_SCRIPT_SHA, 1, key, WINDOW_S * 2, floor)


def _incr_on(client: Any, key: str, floor: int) -> int:
    from redis.exceptions import NoScriptError

    try:
        return int(client.evalsha(*_script_args(key, floor)))
    except NoScriptError:  # a new or restarted server: EVAL runs and caches it
        return int(client.eval(*_script_args(key, floor, source=True)))


_line = _Line()


def _back_off(reason: str) -> None:
    global _redis_down_until
    _redis_down_until = time.monotonic() + BACKOFF_S
    metrics.add_metric(name="RateLimiterDegraded", unit="Count", value=1)
    elsewhere = "in-process" if get_settings().is_development else "in PostgreSQL"
    logger.warning(
        f"rate limiter degraded: counting {elsewhere} for {BACKOFF_S:g} s",
        extra={"reason": reason},
    )


def _from_redis(key: str, floor: int) -> Callable[[], int] | None:
    """What gives the count from Redis, sent already, its reply read when called; None when
    Redis is not to be tried now."""
    if time.monotonic() < _redis_down_until:
        return None
    client = _redis()
    if client is None:
        _back_off("REDIS_URL is not set")
        return None
    try:
        in_flight = _line.send(client, key, floor)
    except Exception as exc:  # judged when the count is asked for, as a failed reply is

        def failed(error: Exception = exc) -> int:
            raise error

        return failed
    if in_flight is None:  # another thread holds the line: counted through the pool
        return lambda: _incr_on(client, key, floor)
    return in_flight


def _counted(
    key: str,
    window: int,
    agent_id: object,
    channel: str,
    scope: CounterScope | None,
    from_redis: Callable[[], int] | None,
) -> int:
    if from_redis is not None:
        try:
            count = from_redis()
        except Exception as exc:  # any Redis failure: count elsewhere, never fail open
            _back_off(f"{type(exc).__name__}: {exc}")
        else:
            _known.saw(key, window, count, in_redis=True)
            return count
    if get_settings().is_development:  # from the highest count seen, as PostgreSQL is
        count = max(_in_process.incr(key, window), _known.floor(key, window) + 1)
        _known.saw(key, window, count, in_redis=False)
        return count
    if scope is None:
        raise ServiceUnavailable("requests cannot be counted right now; retry shortly")
    count = count_in_postgres(scope, agent_id, channel, window, _known.from_redis(key, window))
    _known.saw(key, window, count, in_redis=False)
    return count


def check_agent_rpm(
    agent_id: object, channel: str, cap: int | None, *, scope: CounterScope | None = None
) -> RpmDecision | None:
    """Count one request of agent on channel; None when the channel is unlimited. `scope`
    says where to count it in PostgreSQL when Redis cannot (production); without one, a
    production limiter that cannot reach Redis refuses with ServiceUnavailable."""
    if cap is None or cap <= 0:
        return None
    return count_agent_rpm(agent_id, channel, scope=scope).decide(cap)


@dataclass(frozen=True)
class RpmCount:
    """One request, counted: judged against a cap learnt later (RpmCount.decide)."""

    agent_id: object
    channel: str
    count: int
    at: float  # time.time() when counted

    def decide(self, cap: int | None) -> RpmDecision | None:
        """As check_agent_rpm would have answered with this cap."""
        if cap is None or cap <= 0:
            return None
        retry_after = max(1, int(WINDOW_S - (self.at % WINDOW_S)) + 1)
        return RpmDecision(
            allowed=self.count <= cap,
            limit=cap,
            remaining=max(0, cap - self.count),
            retry_after_s=retry_after,
        )


def count_agent_rpm(
    agent_id: object, channel: str, *, scope: CounterScope | None = None
) -> RpmCount:
    """Count one request of agent on channel, before its cap is known (as check_agent_rpm
    counts it)."""
    return send_agent_rpm_count(agent_id, channel, scope=scope).result()


class RpmCounting:
    """One request's count, sent (`send_agent_rpm_count`) and not read yet: `result` reads
    it (once), `drop` lets go of it unread for a request that ended before. `foreseen` is
    the count as this container knows it meanwhile: one more than the highest it saw for
    the key this minute, never more than the count Redis will give while the container
    runs one request at a time."""

    def __init__(
        self,
        agent_id: object,
        channel: str,
        key: str,
        window: int,
        at: float,
        scope: CounterScope | None,
        from_redis: Callable[[], int] | None,
        floor: int,
    ) -> None:
        self.agent_id, self.channel = agent_id, channel
        self._key, self._window, self._at, self._scope = key, window, at, scope
        self._from_redis = from_redis
        self._result: RpmCount | None = None
        self._dropped = False
        self.foreseen = RpmCount(agent_id, channel, floor + 1, at)

    def result(self) -> RpmCount:
        if self._dropped:  # counting it again elsewhere would count the request twice
            raise RuntimeError("a dropped count has no result")
        if self._result is None:
            from_redis, self._from_redis = self._from_redis, None
            count = _counted(
                self._key, self._window, self.agent_id, self.channel, self._scope, from_redis
            )
            self._result = RpmCount(self.agent_id, self.channel, count, self._at)
        return self._result

    def drop(self) -> None:
        if self._result is not None:
            return
        self._dropped = True
        from_redis, self._from_redis = self._from_redis, None
        if isinstance(from_redis, _InFlight):
            from_redis.drop()


def send_agent_rpm_count(
    agent_id: object, channel: str, *, scope: CounterScope | None = None
) -> RpmCounting:
    """Count one request of agent on channel, its reply read by `RpmCounting.result`, so
    that another round trip can go out meanwhile (count_agent_rpm reads it at once).
    Whoever sends it reads it or drops it."""
    now = time.time()
    window = int(now // WINDOW_S)
    key = f"rpm:{agent_id}:{channel}:{window}"
    floor = _known.floor(key, window)  # sent as the script's floor
    return RpmCounting(agent_id, channel, key, window, now, scope, _from_redis(key, floor), floor)


def reset() -> None:
    """Forget the client, the back-off and every count this process holds (tests)."""
    global _client, _client_url, _redis_down_until, _known, _in_process
    _line.close()
    _client, _client_url, _redis_down_until = None, None, 0.0
    _known = _Known()
    _in_process = _InProcess()


after_restore(reset)  # a restored container's Redis socket and back-off clock are stale
