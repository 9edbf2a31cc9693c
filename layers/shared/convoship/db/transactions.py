"""Read-write transactions: RLS-scoped (pipeline mode, two round trips) and unscoped.

`rls_transaction` runs in psycopg pipeline mode on an autocommit connection with explicit
BEGIN and COMMIT statements: BEGIN, the transaction-local settings and the first query
travel together, so a write costs two round trips (queries, then COMMIT with whatever was
queued behind them, such as audit rows). (psycopg's own `transaction()` blocks sync on
entry and exit: five round trips for the same read.)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from uuid import UUID

import psycopg
from psycopg import pq

from convoship.core.errors import ServiceUnavailable
from convoship.core.settings import get_settings
from convoship.db.connection import Connection, acquire, release, unavailable
from convoship.db.scope import scope_of, scope_sql


@contextmanager
def rls_transaction(
    *, workspace_id: UUID | str | None = None, public_token: str | None = None
) -> Iterator[Connection]:
    """A transaction that sees one workspace's rows (or one public agent's), nothing else.

    The scope is set with set_config(..., true): it ends with the transaction, so a reused
    connection never carries it into the next request. A public token's transaction also
    acts as convoship_embed (a transaction-local set_config of `role`), whose policies alone
    serve the embed.
    """
    scope = scope_of(workspace_id, public_token)
    timeout_ms = str(get_settings().db_statement_timeout_ms)
    conn = acquire()
    try:
        with conn.pipeline() as pipeline:
            conn.execute("BEGIN")
            conn.execute(*scope_sql(scope, timeout_ms))
            try:
                yield conn
            except BaseException:
                # After a failed statement the pipeline is aborted until the next sync;
                # sync it first, so its exit has nothing left to complain about in the logs.
                if conn.pgconn.pipeline_status == pq.PipelineStatus.ABORTED:
                    with contextlib.suppress(psycopg.Error):
                        pipeline.sync()
                # Queued, ROLLBACK leaves with the pipeline's final sync.
                with contextlib.suppress(psycopg.Error):
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
    except psycopg.OperationalError as exc:
        raise unavailable(conn) from exc
    finally:
        if not conn.closed and conn.info.transaction_status != pq.TransactionStatus.IDLE:
            try:
                conn.execute("ROLLBACK")
            except psycopg.Error:
                conn.close()
        release(conn)


@contextmanager
def unscoped_transaction() -> Iterator[Connection]:
    """A transaction with no RLS scope: for role checks and health, sees no tenant rows."""
    conn = acquire()
    try:
        with conn.transaction():
            yield conn
    except psycopg.OperationalError as exc:
        conn.close()
        raise ServiceUnavailable("the database is unavailable") from exc
    finally:
        release(conn)
