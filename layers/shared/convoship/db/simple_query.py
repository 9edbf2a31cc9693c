"""One simple-protocol message and the rows of each of its statements, without a cursor.

The batches (db/read_batch.py) send one message of several statements and read every
result. psycopg's cursor does that with a cursor object, a Transformer and an adapters map
made per call, the query scanned again for placeholders (the batch's values are already
spelled in), and each result selected and described before its rows are read: about 95 us
of CPU per batch in a chat turn, against about 25 us here. The steps are psycopg's own: the
message goes out with `PGconn.send_query`, the connection's `wait` runs psycopg's `execute`
generator (its interrupt and cancel handling included), errors are made from a failed
result by `errors.error_from_result`, and rows are loaded into dicts named as `dict_row`
names them, by the Transformer the pooled connection keeps for the session as it is once the
message ran (db/connection.py: remade when the session's parameters changed). `execute` is a
psycopg internal: psycopg is pinned (constraints.txt), and
tests/integration/test_simple_query.py compares what comes back, rows and errors, with the
cursor's.
"""

from __future__ import annotations

from typing import Any

from psycopg import abc, pq
from psycopg import errors as e
from psycopg.generators import execute

from convoship.db.connection import PooledConnection

_TUPLES_OK = pq.ExecStatus.TUPLES_OK
_COMMAND_OK = pq.ExecStatus.COMMAND_OK
_EMPTY_QUERY = pq.ExecStatus.EMPTY_QUERY
_READABLE = frozenset((_TUPLES_OK, _COMMAND_OK, _EMPTY_QUERY))
_FATAL_ERROR = pq.ExecStatus.FATAL_ERROR


def run_message(
    conn: PooledConnection, message: bytes, *, skip: int = 0
) -> list[list[dict[str, Any]]]:
    """Send `message` (statements already spelled, in the connection's encoding) and return
    the rows of each statement after the first `skip` (whose rows are not read), [] for one
    that returns none. Raises what the cursor would: the failed statement's error,
    OperationalError for a connection that is lost."""
    with conn.lock:
        conn.pgconn.send_query(message)
        results = conn.wait(execute(conn.pgconn))
    if not results:
        raise e.InternalError("got no result from the query")
    # Asked for once the whole message ran: a statement of it may have changed the session.
    loader = conn.spelling
    encoding = loader.encoding
    for result in results:  # as the cursor: any failure raises before a row is loaded
        status = result.status
        if status == _FATAL_ERROR:
            raise e.error_from_result(result, encoding=encoding)
        if status not in _READABLE:  # COPY, or anything else a batch never sends
            raise e.ProgrammingError(f"a batch cannot read a {pq.ExecStatus(status).name} result")
    try:
        return [
            _rows(loader, result, encoding) if result.status == _TUPLES_OK else []
            for result in results[skip:]
        ]
    finally:
        loader.set_pgresult(None)  # a kept Transformer would hold the last result's rows


def _rows(loader: abc.Transformer, result: pq.abc.PGresult, encoding: str) -> list[Any]:
    loader.set_pgresult(result)
    names = [(result.fname(i) or b"").decode(encoding) for i in range(result.nfields)]

    def make_row(values: Any) -> dict[str, Any]:
        return dict(zip(names, values, strict=False))  # as dict_row makes it

    return loader.load_rows(0, result.ntuples, make_row)
