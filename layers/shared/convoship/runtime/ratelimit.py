"""Per-agent requests per minute, shared by every replica through Redis.

`check_agent_rpm` costs one Redis round trip (INCR and EXPIRE pipelined) on a key per agent,
channel and clock minute. When Redis is unset or unreachable it counts in-process with the
same window and leaves Redis alone for a short back-off, so an outage does not add a
connect timeout to every request.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from convoship.core.observability import logger
from convoship.core.settings import get_settings
from convoship.core.snapstart import after_restore

WINDOW_S = 60
REDIS_TIMEOUT_S = 0.25
BACKOFF_S = 5.0


@dataclass(frozen=True)
class RpmDecision:
    allowed: bool
    limit: int
    remaining: int
    retry_after_s: int  # seconds until the window resets (meaningful when not allowed)


class _Fallback:
    """In-process counters for when Redis cannot be reached (per container, not shared)."""

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


_fallback = _Fallback()
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

        _client = redis.Redis.from_url(
            url,
            socket_timeout=REDIS_TIMEOUT_S,
            socket_connect_timeout=REDIS_TIMEOUT_S,
            retry=Retry(NoBackoff(), 0),  # a refused connection must not stall the request
            health_check_interval=0,
        )
        _client_url = url
    return _client


def _count(key: str, window: int) -> int:
    global _redis_down_until
    client = _redis() if time.monotonic() >= _redis_down_until else None
    if client is not None:
        try:
            pipe = client.pipeline(transaction=False)
            pipe.incr(key)
            pipe.expire(key, WINDOW_S * 2)
            count, _ = pipe.execute()
            return int(count)
        except Exception as exc:  # any Redis failure: degrade, never fail the request
            _redis_down_until = time.monotonic() + BACKOFF_S
            logger.warning("redis unavailable; counting in-process", extra={"error": str(exc)})
    return _fallback.incr(key, window)


def check_agent_rpm(agent_id: object, channel: str, cap: int | None) -> RpmDecision | None:
    """Count one request of agent on channel; None when the channel is unlimited."""
    if cap is None or cap <= 0:
        return None
    now = time.time()
    window = int(now // WINDOW_S)
    count = _count(f"rpm:{agent_id}:{channel}:{window}", window)
    retry_after = max(1, int(WINDOW_S - (now % WINDOW_S)) + 1)
    return RpmDecision(
        allowed=count <= cap, limit=cap, remaining=max(0, cap - count), retry_after_s=retry_after
    )


def reset() -> None:
    """Forget the client, the back-off and the fallback counters (tests)."""
    global _client, _client_url, _redis_down_until, _fallback
    _client, _client_url, _redis_down_until = None, None, 0.0
    _fallback = _Fallback()


after_restore(reset)  # a restored container's Redis socket and back-off clock are stale
