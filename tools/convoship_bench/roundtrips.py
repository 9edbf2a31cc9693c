"""Database round trips per request, counted on the wire by wire.CountingProxy.

The app role's DATABASE_URL is pointed at the proxy's unix socket; each route kind's handler
is called in this process on a warm connection (one call first to open it), the counter is
reset, the request runs, and the answered client bursts are read. The floor app, one
autocommit SELECT, is counted the same way on the same event. One more pair of rows counts
a function's first request on a fresh connection (the connect handshake included).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from convoship_bench import floor_app
from convoship_bench.discover import Function
from convoship_bench.report import ERROR, Row, Target
from convoship_bench.stack import BenchStack
from convoship_bench.stats import Summary
from convoship_bench.warm import (
    FLOOR,
    Handler,
    fresh_demo,
    load_handlers,
    outcome,
    reads_first,
    setup_event,
    use_environment,
)
from convoship_bench.wire import CountingProxy, WireCounts
from convoship_dev.lambda_events import LambdaContext

SECTION = "DB round trips per request (counted on the wire)"
READ_TARGET = Target("value_max", 2, stat="max")


def proxied_url(app_url: str, proxy_dir: Path, port: int) -> str:
    params = conninfo_to_dict(app_url)
    params.update(host=str(proxy_dir), port=str(port))
    return make_conninfo(**{k: str(v) for k, v in params.items() if v is not None})


def _count(
    proxy: CountingProxy, handler: Handler, payload: dict[str, Any], context: Any
) -> tuple[WireCounts, Any]:
    """Round trips of one handler call (the event copied outside the counted span)."""
    event = copy.deepcopy(payload)
    proxy.reset()
    result = handler(event, context)
    return proxy.snapshot(), result


def _row(
    name: str, mine: list[WireCounts], theirs: list[WireCounts], target: Target | None, shown: str
) -> Row:
    row = Row(
        section=SECTION,
        name=f"{name} -> {shown}",
        unit="count",
        value=Summary.of([c.round_trips for c in mine]) if mine else None,
        baseline_name="floor app",
        baseline=Summary.of([c.round_trips for c in theirs]) if theirs else None,
        target=target,
        details={
            "bytes_to_server": [c.bytes_to_server for c in mine],
            "bytes_to_client": [c.bytes_to_client for c in mine],
            "unanswered_bursts": [c.unanswered for c in mine],
            "connections_opened": [c.connections for c in mine],
        },
    )
    if any(o.isdigit() and int(o) >= 500 for o in shown.split("/")):
        row.status, row.note = ERROR, f"the handler answered {shown}"
    return row


def measure(functions: Sequence[Function], stack: BenchStack, *, repeats: int) -> list[Row]:
    from convoship.db.connection import close_all

    proxy_dir = stack.work_dir / "pg-proxy"
    proxy_dir.mkdir(mode=0o700)
    port = int(stack.pg_socket.name.rsplit(".", 1)[1])
    rows: list[Row] = []
    with CountingProxy(stack.pg_socket, proxy_dir / f".s.PGSQL.{port}") as proxy:
        use_environment(stack.app_env(proxied_url(stack.database.app_url, proxy_dir, port)))
        handlers = load_handlers(functions, rows, SECTION)
        for fn in functions:
            if fn.kind != "http" or fn.logical_id not in handlers:
                continue
            fresh_demo(stack, functions, handlers)
            handler = handlers[fn.logical_id]
            context = LambdaContext(fn.spec)
            for event in reads_first(fn.events):
                if not event.is_http_request:
                    continue
                setup = setup_event(fn, event)
                handler(copy.deepcopy(event.payload), context)  # opens the connection
                FLOOR(copy.deepcopy(event.payload), context)
                mine, theirs, outcomes = [], [], set()
                for _ in range(repeats):
                    if setup is not None:
                        handler(copy.deepcopy(setup.payload), context)
                    counts, result = _count(proxy, handler, event.payload, context)
                    mine.append(counts)
                    outcomes.add(outcome(result))
                    counts, _ = _count(proxy, FLOOR, event.payload, context)
                    theirs.append(counts)
                if setup is not None:  # put back what the last DELETE removed
                    handler(copy.deepcopy(setup.payload), context)
                target = READ_TARGET if event.method == "GET" else None
                rows.append(
                    _row(
                        f"DB round trips {event.label}",
                        mine,
                        theirs,
                        target,
                        "/".join(sorted(outcomes)),
                    )
                )
            cold = fn.cold_event()
            if cold is None or not cold.is_http_request:
                continue
            mine, theirs, outcomes = [], [], set()
            for _ in range(repeats):
                close_all()
                counts, result = _count(proxy, handler, cold.payload, context)
                mine.append(counts)
                outcomes.add(outcome(result))
                floor_app.reset()
                counts, _ = _count(proxy, FLOOR, cold.payload, context)
                theirs.append(counts)
            rows.append(
                _row(
                    f"DB round trips {fn.name} first request, connect included ({cold.label})",
                    mine,
                    theirs,
                    None,
                    "/".join(sorted(outcomes)),
                )
            )
        close_all()
        floor_app.reset()
    use_environment(stack.app_env())
    return rows
