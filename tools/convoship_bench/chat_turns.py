"""Embed chat turns against the loopback model, which answers at once.

The embed chat handler on a published agent: its p50 and p99 are shown against one bare
model call (the same HTTP exchange with no database, Redis, guardrails or transcript), each
turn followed by one bare call, so the ratio is the turn's own overhead; the overhead itself
(p50 minus the bare call's, per round) is judged in milliseconds. A first round of as many
turns is run and not counted: a container's first turns (and this section's, after the
cold-start sections) run slower, and the figure is a warm container's. Both ride the
container's kept-alive model connection, as turns do on Lambda; the new connections 100
turns open from an empty pool are counted by the loopback model. The CPU time of a turn is
the calling thread's (time.thread_time: the handler's own work, not the loopback model's,
whose threads share this process). Each turn writes its request line as deployed (INFO), to
/dev/null. PostgreSQL and Redis are reached through counting proxies for the round trips
and the bytes written per turn.

A large agent (an 8 KB system prompt, 10 tools with their input schemas, 100 ESCALATE
keywords, every REDACT entity) answers the same message: its CPU per turn is shown against
the small agent's, turn by turn, for what a turn does again for every byte of its agent.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from convoship.core import constants as env
from convoship_bench.discover import Function
from convoship_bench.report import SKIPPED, Row, Target, answered
from convoship_bench.roundtrips import proxied_url
from convoship_bench.stack import BenchStack
from convoship_bench.stats import Summary, paired, percentile
from convoship_bench.turn_instructions import instruction_row
from convoship_bench.warm import Handler, outcome, use_environment
from convoship_bench.wire import CountingProxy
from convoship_dev.lambda_events import LambdaContext
from convoship_dev.services import PROJECT_ROOT

SECTION = "embed chat turn (model answers at once)"
REDIS_TARGET = Target("value_max", 1, stat="max")
# Read (with the reservation, chat/read_ahead.py) and write; a container's first turn on a
# token reserves in a round trip of its own (3).
DB_TARGET = Target("value_max", 2, stat="max")
OVERHEAD_TARGET = Target("value_max", 2.5e-3)
CPU_TARGET = Target("value_max", 3e-3)
CONNECTIONS_TARGET = Target("value_max", 1, stat="max")
CONNECTION_TURNS = 100
EMBED_EVENT = PROJECT_ROOT / "events" / "chat" / "embed_chat.json"
CONTINUED_TURNS = 10  # a conversation's last measured turn (its BUDGET allows about 19)
LARGE_SYSTEM_PROMPT = ("You are the support assistant of a large online shop. " * 150)[:8000]
LARGE_TOOLS = [
    {
        "name": f"lookup_{i}",
        "description": "Looks up what the customer asks about in the shop's systems. " * 3,
        "handler_kind": "http",
        "config": {"method": "POST", "url": f"https://api.example.com/lookup/{i}"},
        "input_schema": {
            "type": "object",
            "properties": {
                f"field_{j}": {"type": "string", "description": "a field"} for j in range(8)
            },
            "required": ["field_0"],
        },
        "secret_refs": [],
    }
    for i in range(10)
]


def large_guardrail(kind: str, config: dict[str, Any]) -> dict[str, Any]:
    """The large agent's guardrails: the defaults, with 100 keywords and a budget that
    thousands of large turns do not spend."""
    if kind == "ESCALATE":
        return {**config, "keywords": [f"keyword {i}" for i in range(100)]}
    if kind == "BUDGET":
        return {"max_tokens_per_conversation": 10_000_000, "max_tokens_per_day": 1_000_000_000}
    return config


def _embed_event(public_token: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(EMBED_EVENT.read_text())
    event["pathParameters"] = {"public_token": public_token}
    path = f"/v1/embed/{public_token}/chat"
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    return event


@contextmanager
def _request_lines_as_deployed() -> Iterator[None]:
    """Each turn writes its request line, as template.yaml deploys the functions (INFO), to
    /dev/null: the bench's stack logs at WARNING, and the line is part of what a turn costs
    (about 0.2 M instructions)."""
    from convoship.core.observability import logger

    level = logger.log_level
    handlers = [h for h in logger.handlers if isinstance(h, logging.StreamHandler)]
    with open(os.devnull, "w") as sink:
        streams = [h.setStream(sink) for h in handlers]
        logger.setLevel(logging.INFO)
        try:
            yield
        finally:
            logger.setLevel(level)
            for h, stream in zip(handlers, streams, strict=True):
                h.setStream(stream)


@_request_lines_as_deployed()
def chat_rows(
    handler: Handler,
    fn: Function,
    stack: BenchStack,
    seeded: dict[str, Any],
    rounds: int,
    iterations: int,
    *,
    count_instructions: bool = False,
) -> list[Row]:
    from convoship.llm.openai import OpenAIChat
    from convoship.llm.types import Message, Sampling

    context = LambdaContext(fn.spec)
    event = _embed_event(seeded["public_token"])
    model = OpenAIChat(
        model="bench-model",
        base_url=stack.llm_base_url,
        api_key=None,
        timeout_s=10,
        allow_private=True,
    )
    bare_messages = [Message("system", "Answer briefly."), Message("user", "Hi")]

    def bare() -> Any:
        return model.complete(bare_messages, tools=[], sampling=Sampling(0.7, 1024))

    outcomes: set[str] = set()
    p50s: list[float] = []
    p99s: list[float] = []
    base50: list[float] = []
    base99: list[float] = []
    cpu: list[float] = []
    base_cpu: list[float] = []

    def play(timed: _Round) -> None:
        for _ in range(iterations):
            payload = copy.deepcopy(event)
            outcomes.add(outcome(timed.pair(lambda p=payload: handler(p, context), bare)))  # type: ignore[misc]

    play(_Round())  # a round of turns not counted: a container's first turns are slower
    backend = _BackendCpu()
    backend_cpu: list[float] = []
    for _ in range(rounds):
        timed = _Round()
        started = backend.spent()
        play(timed)
        spent = backend.since(started)
        if spent is not None:
            backend_cpu.append(spent / iterations)
        p50s.append(percentile(timed.mine, 50))
        p99s.append(percentile(timed.mine, 99))
        base50.append(percentile(timed.theirs, 50))
        base99.append(percentile(timed.theirs, 99))
        cpu.append(percentile(timed.mine_cpu, 50))
        base_cpu.append(percentile(timed.theirs_cpu, 50))
    shown = "/".join(sorted(outcomes))
    bare_name = "one bare model call (kept connection)"
    commit_mode = _synchronous_commit(stack)
    rows = [
        Row(
            SECTION,
            f"embed chat turn p50 -> {shown}",
            "s",
            Summary.of(p50s),
            baseline_name=bare_name,
            baseline=Summary.of(base50),
            ratios=paired(p50s, base50),
        ),
        Row(
            SECTION,
            f"embed chat turn p99 -> {shown}",
            "s",
            Summary.of(p99s),
            baseline_name=bare_name,
            baseline=Summary.of(base99),
            ratios=paired(p99s, base99),
        ),
        Row(
            SECTION,
            "embed chat turn p50 overhead over the bare model call",
            "s",
            Summary.of([mine - theirs for mine, theirs in zip(p50s, base50, strict=True)]),
            target=OVERHEAD_TARGET,
            note=(
                "turn p50 minus bare call p50, per round, after a round not counted;"
                f" synchronous_commit={commit_mode}"
            ),
            details={"synchronous_commit": commit_mode},
        ),
        _cpu_row("embed chat turn", cpu, base_cpu, CPU_TARGET),
        Row(
            SECTION,
            "embed chat turn: PostgreSQL backend CPU per turn (the turns' connection)",
            "s",
            Summary.of(backend_cpu) if backend_cpu else None,
            status=None if backend_cpu else SKIPPED,
            figure="CPU",
            note="on-CPU time of the server process behind the container's connection"
            " (/proc/<pid>/schedstat: the bench's own server, on this machine), per round over"
            " its turns (a round whose turns changed connection is left out)",
        ),
        instruction_row(SECTION, fn, stack, event, counted=count_instructions),
    ]
    rows.append(
        _large_agent_row(handler, context, event, seeded["large_token"], rounds, iterations)
    )
    rows += _continuing_rows(handler, context, event, bare, rounds, iterations)
    rows.append(_connection_row(handler, context, event, stack))
    rows += _chat_wire_rows(handler, context, event, stack, rounds)
    return answered(rows, shown, "200")


def _continuing_rows(
    handler: Handler,
    context: Any,
    event: dict[str, Any],
    bare: Callable[[], Any],
    rounds: int,
    iterations: int,
) -> list[Row]:
    """Turns that continue a conversation (its 2nd to CONTINUED_TURNS-th), each followed by
    one bare model call, as the rows above do for a conversation's first turn: most of a
    widget's turns are these (the conversation's row, its recent messages, its counters)."""
    outcomes: set[str] = set()
    over: list[float] = []
    cpu: list[float] = []
    base_cpu: list[float] = []
    conversation: str | None = None
    turn = 0
    for _ in range(rounds):
        timed = _Round()
        while len(timed.mine) < iterations:
            body = json.loads(event["body"])
            if conversation is None or turn == CONTINUED_TURNS:
                started = handler(copy.deepcopy(event), context)  # a new one: not measured
                outcomes.add(outcome(started))
                conversation, turn = json.loads(started["body"])["conversation_id"], 1
                continue
            payload = {
                **copy.deepcopy(event),
                "body": json.dumps({**body, "conversation_id": conversation}),
            }
            outcomes.add(outcome(timed.pair(lambda p=payload: handler(p, context), bare)))  # type: ignore[misc]
            turn += 1
        over.append(percentile(timed.mine, 50) - percentile(timed.theirs, 50))
        cpu.append(percentile(timed.mine_cpu, 50))
        base_cpu.append(percentile(timed.theirs_cpu, 50))
    shown = "/".join(sorted(outcomes))
    name = f"embed chat turn continuing a conversation (turns 2-{CONTINUED_TURNS})"
    rows = [
        Row(
            SECTION,
            f"{name}: p50 overhead over the bare model call -> {shown}",
            "s",
            Summary.of(over),
            note="turn p50 minus bare call p50, per round; the target above is the first turn's",
        ),
        _cpu_row(name, cpu, base_cpu),
    ]
    return answered(rows, shown, "200")


def _large_agent_row(
    handler: Handler,
    context: Any,
    event: dict[str, Any],
    large_token: str,
    rounds: int,
    iterations: int,
) -> Row:
    """CPU per turn on the large agent against the small one, turn by turn."""
    large = _embed_event(large_token)
    outcomes: set[str] = set()
    for _ in range(2):  # its first turn in this container reads the version whole
        outcomes.add(outcome(handler(copy.deepcopy(large), context)))
    mine: list[float] = []
    theirs: list[float] = []
    for _ in range(rounds):
        big: list[float] = []
        small: list[float] = []
        for _ in range(iterations):
            payload = copy.deepcopy(large)
            _, spent, result = _timed_cpu(lambda p=payload: handler(p, context))  # type: ignore[misc]
            big.append(spent)
            outcomes.add(outcome(result))
            payload = copy.deepcopy(event)
            small.append(_timed_cpu(lambda p=payload: handler(p, context))[1])  # type: ignore[misc]
        mine.append(percentile(big, 50))
        theirs.append(percentile(small, 50))
    shown = "/".join(sorted(outcomes))
    row = Row(
        SECTION,
        f"embed chat turn, a large agent: CPU per turn (handler thread), p50 -> {shown}",
        "s",
        Summary.of(mine),
        baseline_name="the same turn on the small agent",
        baseline=Summary.of(theirs),
        ratios=paired(mine, theirs),
        figure="CPU",
        note="8 KB system prompt, 10 tools, 100 ESCALATE keywords, every REDACT entity",
    )
    return answered([row], shown, "200")[0]


def _cpu_row(name: str, cpu: list[float], bare: list[float], target: Target | None = None) -> Row:
    return Row(
        SECTION,
        f"{name}: CPU per turn (handler thread), p50",
        "s",
        Summary.of(cpu),
        baseline_name="one bare model call",
        baseline=Summary.of(bare),
        target=target,
        figure="CPU",
    )


class _BackendCpu:
    """The CPU time the PostgreSQL backend behind the container's pooled connection spends:
    the server runs on this machine, its process is read in /proc (None where it cannot be,
    or when the turns' connection changed)."""

    def __init__(self) -> None:
        self._pid = self._backend_pid()

    @staticmethod
    def _backend_pid() -> int:
        from convoship.db.connection import acquire, release

        conn = acquire()  # the turns' own connection: the container keeps one idle
        try:
            return conn.info.backend_pid
        finally:
            release(conn)

    def spent(self) -> int | None:
        """Nanoseconds on CPU so far."""
        try:
            return int(Path(f"/proc/{self._pid}/schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def since(self, started: int | None) -> float | None:
        """Seconds on CPU since `started`, if the turns kept to this backend."""
        now = self.spent()
        if started is None or now is None or self._backend_pid() != self._pid:
            return None
        return (now - started) / 1e9


@dataclass
class _Round:
    """One round of turns, each followed by one bare model call: wall and thread CPU times."""

    mine: list[float] = field(default_factory=list)
    theirs: list[float] = field(default_factory=list)
    mine_cpu: list[float] = field(default_factory=list)
    theirs_cpu: list[float] = field(default_factory=list)

    def pair(self, turn: Callable[[], Any], bare: Callable[[], Any]) -> Any:
        """Time the turn, then the bare call; the turn's result."""
        elapsed, spent, result = _timed_cpu(turn)
        self.mine.append(elapsed)
        self.mine_cpu.append(spent)
        elapsed, spent, _ = _timed_cpu(bare)
        self.theirs.append(elapsed)
        self.theirs_cpu.append(spent)
        return result


def _timed_cpu(call: Callable[[], Any]) -> tuple[float, float, Any]:
    """Wall time and this thread's CPU time of one call."""
    started, cpu_started = time.perf_counter(), time.thread_time()
    result = call()
    return time.perf_counter() - started, time.thread_time() - cpu_started, result


def _synchronous_commit(stack: BenchStack) -> str:
    """The setting the turns' transactions run with (as the app role sees it)."""
    with psycopg.connect(stack.database.app_url, autocommit=True) as conn:
        row = conn.execute("SHOW synchronous_commit").fetchone()
    return str(row[0]) if row else "unknown"


def _connection_row(
    handler: Handler, context: Any, event: dict[str, Any], stack: BenchStack
) -> Row:
    """New connections to the model over 100 turns, starting from an empty pool."""
    from convoship.security.outbound import close_idle_connections

    counts = []
    for _ in range(2):
        close_idle_connections()
        stack.llm.reset()
        for _ in range(CONNECTION_TURNS):
            handler(copy.deepcopy(event), context)
        counts.append(stack.llm.connections)
    return Row(
        SECTION,
        f"new model connections per {CONNECTION_TURNS} embed turns",
        "count",
        Summary.of(counts),
        target=CONNECTIONS_TARGET,
        note="from an empty pool, counted by the loopback model (TCP connections accepted)",
    )


def _chat_wire_rows(
    handler: Handler, context: Any, event: dict[str, Any], stack: BenchStack, repeats: int
) -> list[Row]:
    db_socket = stack.work_dir / "chat-pg-proxy"
    db_socket.mkdir(exist_ok=True)
    port = int(stack.pg_socket.name.rsplit(".", 1)[-1])
    pg_listen = db_socket / f".s.PGSQL.{port}"
    redis_listen = stack.work_dir / "chat-redis-proxy.sock"
    db_counts, redis_counts = [], []
    with (
        CountingProxy(stack.pg_socket, pg_listen) as pg,
        CountingProxy(stack.redis_socket, redis_listen) as rd,
    ):
        use_environment(
            {
                **stack.app_env(proxied_url(stack.database.app_url, db_socket, port)),
                env.REDIS_URL: f"unix://{redis_listen}",
            }
        )
        from convoship.runtime import ratelimit

        ratelimit.reset()
        handler(copy.deepcopy(event), context)  # open the connections
        for _ in range(max(3, repeats)):
            payload = copy.deepcopy(event)
            pg.reset()
            rd.reset()
            handler(payload, context)
            db_counts.append(pg.snapshot())
            redis_counts.append(rd.snapshot())
    use_environment(stack.app_env())
    return [
        Row(
            SECTION,
            "embed chat turn: DB round trips",
            "count",
            Summary.of([c.round_trips for c in db_counts]),
            target=DB_TARGET,
            note="read, reserving the turn and its tokens: 1; write and settle: 1 (each one"
            " transaction; a container's first turn on a token reserves apart: 3)",
            details={"bytes_to_server": [c.bytes_to_server for c in db_counts]},
        ),
        Row(
            SECTION,
            "embed chat turn: bytes sent to PostgreSQL",
            "count",
            Summary.of([c.bytes_to_server for c in db_counts]),
            note="queries and the rows written (messages, conversation, usage)",
        ),
        Row(
            SECTION,
            "embed chat turn: Redis round trips",
            "count",
            Summary.of([c.round_trips for c in redis_counts]),
            target=REDIS_TARGET,
        ),
    ]
