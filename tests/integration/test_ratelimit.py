"""check_agent_rpm on a real Redis, shared across callers, degrading when Redis is down."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from convoship.core.settings import reset_settings
from convoship.runtime import ratelimit


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
