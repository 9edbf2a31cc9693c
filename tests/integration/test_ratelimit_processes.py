"""Several processes (each a container: its own Redis client, back-off and counts) against
one agent in production mode, with Redis killed in the middle of a minute and then restarted
empty: together they admit exactly the cap in that minute, never the cap per container."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import redis

from convoship.core import constants as env
from convoship_dev import services
from tests.support.agents import Conn
from tests.support.clock_minute import a_fresh_minute
from tests.support.ratelimit_worker import BACKOFF_S
from tests.support.seed import seed_graph

ROOT = Path(__file__).resolve().parents[2]
CAP = 10
CONTAINERS = 3
NEEDED_S = 20  # the whole scenario must run inside one clock minute


def answer(worker: subprocess.Popen[str]) -> Any:
    assert worker.stdout is not None
    for line in worker.stdout:
        if line.startswith("RESULT "):
            return json.loads(line.removeprefix("RESULT "))
    raise AssertionError(f"worker exited with {worker.wait()}")


def admitted(workers: list[subprocess.Popen[str]], checks: int) -> int:
    """Every container runs `checks` requests at the same time; how many were allowed."""
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write(f"check {checks}\n")
        worker.stdin.flush()
    answers = [answer(worker) for worker in workers]
    assert all(isinstance(a, list) for a in answers), answers
    return sum(sum(a) for a in answers)


def test_containers_admit_exactly_the_cap_across_a_redis_failure(
    base_env: dict[str, str], owner_sql: Conn, workspace: Any, tmp_path: Path
) -> None:
    ids = seed_graph(owner_sql, workspace)
    redis_dir = tmp_path / "redis"
    server = services.start_redis(redis_dir)
    restarted: services.LocalRedis | None = None
    environ = {**os.environ, **base_env, env.STAGE: "production", env.REDIS_URL: server.url}
    environ.pop(env.AUDIT_DEV_SIGNING_KEY, None)  # development-only: refused in production
    argv = [sys.executable, "-m", "tests.support.ratelimit_worker"]
    argv += [str(ids["agent"]), str(workspace), ids["public_token"], str(CAP)]
    workers = [
        subprocess.Popen(
            argv, cwd=ROOT, env=environ, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        for _ in range(CONTAINERS)
    ]
    try:
        assert [answer(w) for w in workers] == ["ready"] * CONTAINERS
        a_fresh_minute(NEEDED_S)
        total = admitted(workers, 2)  # Redis counts 1..6
        server.stop()  # killed mid-minute
        # Each container keeps serving (as warm containers under traffic do): its first
        # request after the failure carries the highest count it saw into PostgreSQL...
        total += admitted(workers, 1)
        total += admitted(workers, 6)  # ...and all of them count there together
        restarted = services.start_redis(redis_dir)  # back, and empty
        time.sleep(BACKOFF_S + 0.2)
        total += admitted(workers, 3)  # in Redis again, from what each container saw
        assert total == CAP
        counter = owner_sql.execute(
            "SELECT redis_seen, counted FROM ai_agent_rate_counters"
            " WHERE agent_id = %s AND channel = 'embed'",
            (ids["agent"],),
        ).fetchone()
        assert counter == {"redis_seen": 2 * CONTAINERS, "counted": 7 * CONTAINERS}
        client = redis.Redis.from_url(restarted.url)
        (key,) = client.keys(f"rpm:{ids['agent']}:embed:*")
        assert int(client.get(key) or 0) > CAP and client.ttl(key) > 0
        client.close()
    finally:
        for worker in workers:
            if worker.stdin is not None:
                worker.stdin.close()
            try:
                worker.wait(10)
            except subprocess.TimeoutExpired:
                worker.kill()
        server.stop()
        if restarted is not None:
            restarted.stop()
