"""Warm latency: each route kind's handler called in this process with its events/ file.

After a warm-up, every round times `iterations` calls of the handler, each followed by one
call of the baseline (the floor app for studio functions, the bare handler for the
authorizer) on the same event, so both see the same machine load. A round gives a p50 and a
p99; the table shows the median of the rounds with their min and max, and the ratio is the
median of the rounds' ratios (each round's p50 over its baseline's). A DELETE event gets
its resource back before every call (the POST/PUT event of the same path, untimed), so it
measures a real deletion rather than a 404.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from convoship_bench import bare_handler, floor_app
from convoship_bench.discover import EventFile, Function
from convoship_bench.report import ERROR, Row, Target
from convoship_bench.stack import BenchStack
from convoship_bench.stats import Summary, paired, percentile
from convoship_dev import handlers
from convoship_dev.lambda_events import LambdaContext

SECTION = "warm latency (in-process handler(event, context), per route kind)"
P50_TARGET = Target("ratio_max", 1.3)
WRITE_NOTE = (
    "writes have no target: the floor runs one SELECT, a write also runs its upsert, the"
    " audit row and the COMMIT"
)

Handler = Callable[[dict[str, Any], Any], Any]

FLOOR: Handler = floor_app.handler
FLOOR_ASYNC: Handler = floor_app.async_handler
BARE: Handler = bare_handler.handler


def use_environment(values: dict[str, str]) -> None:
    """Point this process's settings (and cached connections) at the bench servers."""
    from convoship.core.settings import reset_settings
    from convoship.db.connection import close_all
    from convoship.security import crypto

    os.environ.update(values)
    reset_settings()
    crypto.clear_caches()
    close_all()
    floor_app.reset()


def load_handler(fn: Function) -> Handler:
    return handlers.load_handler(fn.spec)


def outcome(result: Any) -> str:
    """A short description of a handler's answer: its status code or allow/deny."""
    if isinstance(result, dict):
        if "statusCode" in result:
            return str(result["statusCode"])
        if "isAuthorized" in result:
            return "allow" if result["isAuthorized"] else "deny"
    return type(result).__name__


def record_read_sql(handler: Handler, payload: dict[str, Any], context: Any) -> str | None:
    """The one message a read route sends (its ReadBatch), captured by running it once;
    None when the route sent no batch or more than one."""
    from convoship.db.read_batch import ReadBatch

    seen: list[str] = []
    original = ReadBatch._send

    def spy(batch: ReadBatch) -> Any:
        seen.append(batch.sql())
        return original(batch)

    ReadBatch._send = spy  # type: ignore[method-assign]
    try:
        handler(copy.deepcopy(payload), context)
    finally:
        ReadBatch._send = original  # type: ignore[method-assign]
    return seen[0] if len(seen) == 1 else None


def failed_row(section: str, name: str, exc: BaseException) -> Row:
    return Row(section, name, "s", None, status=ERROR, note=f"{type(exc).__name__}: {exc}")


def setup_event(fn: Function, event: EventFile) -> EventFile | None:
    """For a DELETE, the POST/PUT event that creates what it deletes (the longest path that
    is a prefix of the DELETE's path)."""
    if event.method != "DELETE":
        return None
    path = str(event.payload.get("rawPath", ""))
    candidates = [
        other
        for other in fn.events
        if other.method in ("POST", "PUT")
        and path.startswith(str(other.payload.get("rawPath", "")) or "\0")
    ]
    return max(candidates, key=lambda e: len(str(e.payload["rawPath"])), default=None)


def reads_first(events: Sequence[EventFile]) -> list[EventFile]:
    """GET events before the writes, so lists are read on the primed data (not on what a
    thousand timed POSTs piled up) and nothing a DELETE removed is missing for a read."""
    return sorted(events, key=lambda e: e.method != "GET")


def load_handlers(
    functions: Sequence[Function], rows: list[Row], section: str
) -> dict[str, Handler]:
    """Import every handler (an import error becomes an ERROR row)."""
    handlers: dict[str, Handler] = {}
    for fn in functions:
        try:
            handlers[fn.logical_id] = load_handler(fn)
        except Exception as exc:  # a function being written: report it
            rows.append(failed_row(section, f"{fn.name}: import", exc))
    return handlers


def fresh_demo(
    stack: BenchStack, functions: Sequence[Function], handlers: dict[str, Handler]
) -> None:
    """The demo workspace as seeded, then every POST event replayed once, untimed, so that
    what the other events name exists where the client picks the name (a slug, a secret's
    name); ids the server makes stay unknown (those events get a 404, shown in their row).
    Done before each function: every function sees the same data, whatever the events of
    the one before it changed."""
    stack.reset_demo()
    for fn in functions:
        context = LambdaContext(fn.spec)
        for event in fn.events:
            if fn.logical_id in handlers and event.is_http_request and event.method == "POST":
                handlers[fn.logical_id](copy.deepcopy(event.payload), context)


@dataclass
class Pair:
    """A handler and its baseline, timed alternately on one event."""

    handler: Handler
    baseline: Handler
    event: dict[str, Any]
    context: Any
    setup: dict[str, Any] | None = None
    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    base_p50: list[float] = field(default_factory=list)
    base_p99: list[float] = field(default_factory=list)
    outcomes: set[str] = field(default_factory=set)

    def call(self, handler: Handler) -> float:
        if self.setup is not None and handler is self.handler:
            self.handler(copy.deepcopy(self.setup), self.context)
        event = copy.deepcopy(self.event)
        started = time.perf_counter()
        result = handler(event, self.context)
        elapsed = time.perf_counter() - started
        if handler is self.handler:
            self.outcomes.add(outcome(result))
        return elapsed

    def round(self, iterations: int) -> None:
        mine, theirs = [], []
        for _ in range(iterations):
            mine.append(self.call(self.handler))
            theirs.append(self.call(self.baseline))
        self.p50.append(percentile(mine, 50))
        self.p99.append(percentile(mine, 99))
        self.base_p50.append(percentile(theirs, 50))
        self.base_p99.append(percentile(theirs, 99))


def _rows_for(
    label: str, baseline_name: str, pair: Pair, target: Target | None, note: str
) -> list[Row]:
    shown = "/".join(sorted(pair.outcomes))
    failed = any(o.isdigit() and int(o) >= 500 for o in pair.outcomes)
    rows = []
    for stat, mine, theirs in (("p50", pair.p50, pair.base_p50), ("p99", pair.p99, pair.base_p99)):
        row = Row(
            section=SECTION,
            name=f"warm {stat} {label} -> {shown}",
            unit="s",
            value=Summary.of(mine) if mine else None,
            baseline_name=baseline_name,
            baseline=Summary.of(theirs) if theirs else None,
            target=target if stat == "p50" else None,
            note=note if stat == "p50" else "",
            ratios=paired(mine, theirs),
        )
        if failed:
            row.status, row.note = ERROR, f"the handler answered {shown}"
        rows.append(row)
    return rows


def measure(
    functions: Sequence[Function],
    stack: BenchStack,
    *,
    rounds: int,
    iterations: int,
    warmup: int,
    per_kind_s: float = 5.0,
    deadline_s: float = 600.0,
) -> list[Row]:
    """Rows for every route kind; each gets at least one round, more while its share of
    time (per_kind_s) and the whole deadline last."""
    use_environment(stack.app_env())
    rows: list[Row] = []
    stop_at = time.monotonic() + deadline_s
    floor_pair: Pair | None = None
    handlers = load_handlers(functions, rows, SECTION)
    for fn in functions:
        if fn.logical_id not in handlers:
            continue
        fresh_demo(stack, functions, handlers)
        handler = handlers[fn.logical_id]
        context = LambdaContext(fn.spec)
        for event in reads_first(fn.events):
            baseline: Handler
            if fn.kind == "authorizer":
                baseline, baseline_name = BARE, "bare handler"
                target, note = None, ""
            elif fn.kind == "http" and event.is_http_request:
                baseline, baseline_name = FLOOR, "floor app"
                is_read = event.method == "GET"
                target, note = (P50_TARGET, "") if is_read else (None, WRITE_NOTE)
                sql = record_read_sql(handler, event.payload, context) if is_read else None
                if sql is not None:
                    key = (str(event.method), str(event.payload.get("rawPath", "")))
                    floor_app.SQL[key] = sql
                    baseline_name = "floor app, same SQL"
            else:
                continue  # no comparable floor for scheduled events yet
            setup = setup_event(fn, event)
            pair = Pair(handler, baseline, event.payload, context, setup.payload if setup else None)
            try:
                for _ in range(warmup):
                    pair.call(pair.handler)
                    pair.call(pair.baseline)
                kind_stop = min(stop_at, time.monotonic() + per_kind_s)
                for _ in range(rounds):
                    pair.round(iterations)
                    if time.monotonic() > kind_stop:
                        break
            except Exception as exc:  # report it, do not crash the run
                rows.append(failed_row(SECTION, f"warm {event.label}", exc))
                continue
            finally:
                if setup is not None:  # put back what the last DELETE removed
                    handler(copy.deepcopy(setup.payload), context)
            rows.extend(_rows_for(event.label, baseline_name, pair, target, note))
            if floor_pair is None and baseline is FLOOR:
                floor_pair = Pair(FLOOR_ASYNC, FLOOR, event.payload, context)
    if floor_pair is not None:
        for _ in range(warmup):
            floor_pair.call(floor_pair.handler)
        for _ in range(rounds):
            floor_pair.round(iterations)
        rows.extend(
            row
            for row in _rows_for(
                "floor app, async def route", "floor app (def route)", floor_pair, None, ""
            )
            if "p50" in row.name
        )
    return rows
