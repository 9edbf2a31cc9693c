"""Tests that count one clock minute's requests (the RPM limiter's window) start early enough
in a minute to finish inside it: a request counted after the minute turns starts from zero."""

from __future__ import annotations

import time

from convoship.runtime.ratelimit import WINDOW_S


def a_fresh_minute(needed_s: float = 5.0) -> None:
    """Wait for the next window when fewer than needed_s seconds of this one are left."""
    left = WINDOW_S - time.time() % WINDOW_S
    if left < needed_s:
        time.sleep(left + 0.1)
