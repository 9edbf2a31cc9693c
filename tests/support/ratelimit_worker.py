"""One "container" for the multi-process rate-limit test: its own process, its own Redis
client, back-off and counts. Run as `python -m tests.support.ratelimit_worker AGENT WORKSPACE
PUBLIC_TOKEN CAP` with the app environment; each stdin line `check N` runs N checks of the
agent's embed channel and answers one line `RESULT [true, false, ...]` (first `RESULT "ready"`;
other output, such as the limiter's warnings, goes to stdout too, without that prefix)."""

from __future__ import annotations

import json
import sys
import uuid

from convoship.runtime import ratelimit
from convoship.runtime.ratelimit_postgres import CounterScope

BACKOFF_S = 0.3  # shorter than production's, so a test sees Redis tried again


def main(agent: str, workspace: str, public_token: str, cap: int) -> None:
    ratelimit.BACKOFF_S = BACKOFF_S
    scope = CounterScope(uuid.UUID(workspace), {"public_token": public_token})
    print("RESULT " + json.dumps("ready"), flush=True)
    for line in sys.stdin:
        command, _, n = line.partition(" ")
        if command != "check":
            break
        try:
            decisions = [
                ratelimit.check_agent_rpm(agent, "embed", cap, scope=scope) for _ in range(int(n))
            ]
            answer: object = [bool(d and d.allowed) for d in decisions]
        except Exception as exc:  # report it: the test shows it
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        print("RESULT " + json.dumps(answer), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
