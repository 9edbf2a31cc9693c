"""Transactions in one round trip.

`read_transaction` holds the queries until the first fetch, then sends them after the scope
as one simple-protocol message (values spelled as psycopg's ClientCursor spells them,
db/statement_text.py; results read without a cursor, db/simple_query.py). PostgreSQL runs the
statements of one such message as one transaction (an implicit transaction block: it commits
after the last and rolls all of them back if any fails), so the message carries no BEGIN or
COMMIT: two statements fewer for the server to parse and run, two results fewer to read, and
no ROLLBACK round trip after a failure.
`batch_transaction` does the same for a short write whose statements are all known before
any result is read (a turn's reservation, a rate counter): one round trip, all or nothing.
`write_batch` sends it when the block ends, for a write that reads nothing back (a chat
turn's transcript): like rls_transaction, in one simple-protocol message.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, cast
from uuid import UUID

import psycopg
from psycopg import pq

from convoship.core.settings import get_settings
from convoship.db.connection import Connection, PooledConnection, acquire, release, unavailable
from convoship.db.scope import scope_of, scope_sql
from convoship.db.simple_query import run_message
from convoship.db.statement_text import statement_text


class ReadBatch:
    """The queries of a read-only transaction, sent together at the first fetch.

    It answers `execute(query, params)` with a cursor whose `fetchone`/`fetchall` send the
    whole batch the first time any of them is read; a query queued after that is a
    programming error. Data-access functions written for `rls_transaction` (queue, then
    fetch) work unchanged.
    """

    def __init__(
        self,
        conn: PooledConnection,
        scope: tuple[str, str],
        timeout_ms: str,
        *,
        durable: bool = True,
    ) -> None:
        self._conn = conn
        self._scope = scope
        self._timeout_ms = timeout_ms
        self._durable = durable
        self._queries: list[tuple[Any, Any]] = []
        self._results: list[list[dict[str, Any]]] | None = None

    @property
    def sent(self) -> bool:
        return self._results is not None

    def execute(self, query: Any, params: Any = None) -> _BatchCursor:
        if self._results is not None:
            raise RuntimeError("a read batch takes no query after its first fetch")
        self._queries.append((query, params))
        return _BatchCursor(self, len(self._queries) - 1)

    def flush(self) -> None:
        """Send what is queued, if it was not sent yet."""
        if self._results is None and self._queries:
            self._results = self._send()

    def results_of(self, index: int) -> list[dict[str, Any]]:
        if self._results is None:
            self._results = self._send()
        return self._results[index]

    def sql(self) -> str:
        """The one message the batch sends: the scope statement, then the queries."""
        return self._message().decode(self._conn.info.encoding)

    def _message(self) -> bytes:
        conn = self._conn
        scope, timeout_ms, durable = self._scope, self._timeout_ms, self._durable
        scope_statement, transformer = conn.spelled(
            ("scope", scope, timeout_ms, durable),
            lambda transformer: statement_text(
                conn, transformer, *scope_sql(scope, timeout_ms, durable=durable)
            ),
        )
        statements = [
            scope_statement,
            *(statement_text(conn, transformer, query, params) for query, params in self._queries),
        ]
        return b";\n".join(statements)

    def _send(self) -> list[list[dict[str, Any]]]:
        try:
            return run_message(self._conn, self._message(), skip=1)  # not the scope's
        except psycopg.Error:
            # The server rolled the message's transaction back; a connection left inside one
            # anyway (a reply that could not be read to its end) is rolled back or closed.
            if not self._conn.closed and self._conn.info.transaction_status != (
                pq.TransactionStatus.IDLE
            ):
                try:
                    self._conn.execute("ROLLBACK")
                except psycopg.Error:
                    self._conn.close()
            raise


class _BatchCursor:
    def __init__(self, batch: ReadBatch, index: int) -> None:
        self._batch = batch
        self._index = index
        self._position = 0

    def fetchall(self) -> list[dict[str, Any]]:
        rows = self._batch.results_of(self._index)[self._position :]
        self._position += len(rows)
        return rows

    def fetchone(self) -> dict[str, Any] | None:
        rows = self._batch.results_of(self._index)
        if self._position >= len(rows):
            return None
        self._position += 1
        return rows[self._position - 1]


def was_sent(conn: Connection) -> bool:
    """Whether the batch behind what a batch transaction yielded was sent (and read)."""
    return isinstance(conn, ReadBatch) and conn.sent


def read_transaction(
    *, workspace_id: UUID | str | None = None, public_token: str | None = None
) -> AbstractContextManager[Connection]:
    """Like rls_transaction, for work that only reads: one round trip (none if nothing is
    fetched). What it yields answers execute/fetchone/fetchall only."""
    return batch_transaction(workspace_id=workspace_id, public_token=public_token)


def batch_transaction(
    *,
    workspace_id: UUID | str | None = None,
    public_token: str | None = None,
    durable: bool = True,
) -> AbstractContextManager[Connection]:
    """Like rls_transaction, in one round trip, sent at the first fetch: the statements may
    write, but none may depend on another's result in Python. A failing statement rolls the
    whole batch back. durable=False: the commit
    does not wait for the WAL flush (db/scope.py), for what may be lost with a crash."""
    return _batch(workspace_id, public_token, send_at_exit=False, durable=durable)


def write_batch(
    *, workspace_id: UUID | str | None = None, public_token: str | None = None
) -> AbstractContextManager[Connection]:
    """Like batch_transaction, and whatever is still queued when the block ends is sent
    then: the transaction commits at the end of the block, as with rls_transaction, in one
    round trip (one simple-protocol message costs less CPU than a pipeline). Nothing is sent
    if the block raises."""
    return _batch(workspace_id, public_token, send_at_exit=True, durable=True)


@contextmanager
def _batch(
    workspace_id: UUID | str | None,
    public_token: str | None,
    *,
    send_at_exit: bool,
    durable: bool,
) -> Iterator[Connection]:
    scope = scope_of(workspace_id, public_token)
    conn = acquire()
    timeout_ms = str(get_settings().db_statement_timeout_ms)
    batch = ReadBatch(conn, scope, timeout_ms, durable=durable)
    try:
        yield cast(Connection, batch)
        if send_at_exit:
            batch.flush()
    except psycopg.OperationalError as exc:
        raise unavailable(conn) from exc
    finally:
        release(conn)
