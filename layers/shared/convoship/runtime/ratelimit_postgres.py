"""The rate limiter's shared counter for when Redis cannot be reached (production only).

One statement in one round trip: the agent and channel's row moves to the current minute
(the Redis key's window) and counts the request. Every container counts in the same row,
so a Redis outage never multiplies the cap by the number of warm containers. The row
remembers the highest count Redis had given in that minute as far as the containers that
counted here know (`redis_seen`), so the minute Redis failed in keeps what it admitted.
It runs in the request's own RLS scope: the workspace for the playground, the public token
(as convoship_embed, which may count only its own agent's embed channel) for the embed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from convoship.db.read_batch import batch_transaction


@dataclass(frozen=True)
class CounterScope:
    """Where a request is counted when Redis cannot be: the agent's workspace and the RLS
    scope of the request (the keyword of rls_transaction)."""

    workspace_id: UUID
    transaction: dict[str, Any]


# A container whose clock lags into the previous minute counts into the row's newer one.
_COUNT = """
INSERT INTO ai_agent_rate_counters AS c
    (workspace_id, agent_id, channel, window_start, redis_seen, counted)
VALUES (%(ws)s, %(agent)s, %(channel)s, %(window)s, %(seen)s, 1)
ON CONFLICT (agent_id, channel) DO UPDATE SET
    redis_seen = CASE
        WHEN c.window_start = EXCLUDED.window_start
            THEN GREATEST(c.redis_seen, EXCLUDED.redis_seen)
        WHEN c.window_start < EXCLUDED.window_start THEN EXCLUDED.redis_seen
        ELSE c.redis_seen END,
    counted = CASE WHEN c.window_start < EXCLUDED.window_start THEN 1 ELSE c.counted + 1 END,
    window_start = GREATEST(c.window_start, EXCLUDED.window_start)
RETURNING redis_seen + counted AS count
"""


def count_in_postgres(
    scope: CounterScope, agent_id: object, channel: str, window: int, redis_seen: int
) -> int:
    """Count one request of the agent on the channel in minute `window`; the minute's count
    so far. A database that is down raises ServiceUnavailable: the limiter fails closed."""
    params = {
        "ws": scope.workspace_id,
        "agent": agent_id,
        "channel": channel,
        "window": window,
        "seen": redis_seen,
    }
    with batch_transaction(**scope.transaction, durable=False) as conn:  # may die in a crash
        row = conn.execute(_COUNT, params).fetchone()
    assert row is not None  # an upsert always returns its row
    return int(row["count"])
