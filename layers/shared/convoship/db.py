"""Database access: one reused connection per container and RLS-scoped transactions.

`rls_transaction` runs in psycopg pipeline mode on an autocommit connection with explicit
BEGIN and COMMIT statements: BEGIN, the transaction-local settings and the first query
travel together, so a write costs two round trips (queries, then COMMIT with whatever was
queued behind them, such as audit rows). (psycopg's own `transaction()` blocks sync on
entry and exit: five round trips for the same read.)

`read_transaction` is for requests that only read: their queries are held until the first
fetch, then sent with BEGIN, the settings and COMMIT as one simple-protocol message (values
bound by psycopg's ClientCursor), so a read costs one round trip.
"""

from __future__ import annotations

import contextlib
import select
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast
from uuid import UUID

import psycopg
from psycopg import pq
from psycopg.rows import dict_row

from convoship.errors import ServiceUnavailable
from convoship.settings import get_settings

Connection = psycopg.Connection[dict[str, Any]]

# A connection idle longer than this is pinged before use: a frozen Lambda container's
# socket may have been dropped by the server or a NAT in between.
_PING_AFTER_IDLE_S = 60.0

_idle: list[tuple[Connection, float]] = []
_idle_lock = threading.Lock()


def _connect() -> Connection:
    settings = get_settings()
    try:
        return psycopg.connect(
            settings.require_database_url(),
            autocommit=True,  # transactions are explicit BEGIN/COMMIT in rls_transaction
            prepare_threshold=None,  # RDS Proxy pins sessions on named prepared statements
            connect_timeout=settings.db_connect_timeout_s,
            application_name="convoship",
            row_factory=dict_row,
            # Fail fast on a silently dropped TCP peer (ignored on unix sockets).
            keepalives=1,
            keepalives_idle=30,
            keepalives_interval=5,
            keepalives_count=3,
            tcp_user_timeout=settings.db_connect_timeout_s * 1000,
        )
    except psycopg.OperationalError as exc:
        raise ServiceUnavailable("the database is unavailable") from exc


def _server_spoke(conn: Connection) -> bool:
    """An idle connection has nothing to read unless the server spoke: to say it is closing
    it (restart, failover, terminated backend). No round trip needed to notice that."""
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


def _usable(conn: Connection, idle_since: float) -> bool:
    if conn.closed or conn.broken:
        return False
    try:
        if _server_spoke(conn):
            conn.close()
            return False
        if time.monotonic() - idle_since >= _PING_AFTER_IDLE_S:
            conn.execute("SELECT 1")
        return True
    except (psycopg.Error, OSError, ValueError):
        conn.close()
        return False


def _acquire() -> Connection:
    """The container's idle connection, or a new one. Lambda runs one request at a time, so
    this holds one connection there; the local runner may serve requests concurrently."""
    while True:
        with _idle_lock:
            if not _idle:
                break
            conn, idle_since = _idle.pop()
        if _usable(conn, idle_since):
            return conn
    return _connect()


def _release(conn: Connection) -> None:
    if conn.closed or conn.broken or conn.info.transaction_status != pq.TransactionStatus.IDLE:
        conn.close()
        return
    with _idle_lock:
        _idle.append((conn, time.monotonic()))


def close_all() -> None:
    """Close idle connections (tests and the local runner call this between servers)."""
    with _idle_lock:
        conns = [conn for conn, _ in _idle]
        _idle.clear()
    for conn in conns:
        conn.close()


def _unavailable(conn: Connection) -> ServiceUnavailable:
    """A 503 for an OperationalError inside a scoped transaction. A lost connection is
    closed; a statement timeout, deadlock or serialization failure is transient: the
    connection is fine (rolled back) and the client may retry."""
    if conn.broken or conn.closed:
        conn.close()
        return ServiceUnavailable("the database is unavailable")
    return ServiceUnavailable("the database is busy; retry shortly", retry_after=1)


@contextmanager
def rls_transaction(
    *, workspace_id: UUID | str | None = None, public_token: str | None = None
) -> Iterator[Connection]:
    """A transaction that sees one workspace's rows (or one public agent's), nothing else.

    The scope is set with set_config(..., true): it ends with the transaction, so a reused
    connection never carries it into the next request. A public token's transaction also
    acts as convoship_embed (SET LOCAL ROLE), whose policies alone serve the embed.
    """
    scope = _scope(workspace_id, public_token)
    name, value = scope
    timeout_ms = str(get_settings().db_statement_timeout_ms)
    conn = _acquire()
    try:
        with conn.pipeline() as pipeline:
            conn.execute("BEGIN")
            conn.execute(
                "SELECT set_config(%s, %s, true), set_config('statement_timeout', %s, true)",
                (name, value, timeout_ms),
            )
            if _is_public(scope):
                conn.execute(EMBED_ROLE_SQL)
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
        raise _unavailable(conn) from exc
    finally:
        if not conn.closed and conn.info.transaction_status != pq.TransactionStatus.IDLE:
            try:
                conn.execute("ROLLBACK")
            except psycopg.Error:
                conn.close()
        _release(conn)


# Public (embed) transactions act as this role: the embed policies and grants are its own.
EMBED_ROLE_SQL = "SET LOCAL ROLE convoship_embed"


def _scope(workspace_id: UUID | str | None, public_token: str | None) -> tuple[str, str]:
    if (workspace_id is None) == (public_token is None):
        raise ValueError("an RLS transaction needs exactly one of workspace_id or public_token")
    if workspace_id is not None:
        return "app.workspace_id", str(workspace_id)
    return "app.ai_agent_public_token", str(public_token)


def _is_public(scope: tuple[str, str]) -> bool:
    return scope[0] == "app.ai_agent_public_token"


class ReadBatch:
    """The queries of a read-only transaction, sent together at the first fetch.

    It answers `execute(query, params)` with a cursor whose `fetchone`/`fetchall` send the
    whole batch the first time any of them is read; a query queued after that is a
    programming error. Data-access functions written for `rls_transaction` (queue, then
    fetch) work unchanged.
    """

    def __init__(self, conn: Connection, scope: tuple[str, str], timeout_ms: str) -> None:
        self._conn = conn
        self._scope = scope
        self._timeout_ms = timeout_ms
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

    def results_of(self, index: int) -> list[dict[str, Any]]:
        if self._results is None:
            self._results = self._send()
        return self._results[index]

    def sql(self) -> tuple[str, int]:
        """The one message the batch sends, and how many results precede the queries'
        (set_config's, and SET ROLE's for the embed) after BEGIN's."""
        cursor = psycopg.ClientCursor(self._conn)
        name, value = self._scope
        prelude = [
            cursor.mogrify(
                "SELECT set_config(%s, %s, true), set_config('statement_timeout', %s, true)",
                (name, value, self._timeout_ms),
            ),
            *([EMBED_ROLE_SQL] if _is_public(self._scope) else []),
        ]
        statements = [
            "BEGIN",
            *prelude,
            *(cursor.mogrify(query, params) for query, params in self._queries),
            "COMMIT",
        ]
        return ";\n".join(statements), len(prelude)

    def _send(self) -> list[list[dict[str, Any]]]:
        text, skipped = self.sql()
        cursor = psycopg.ClientCursor(self._conn, row_factory=dict_row)
        try:
            cursor.execute(text)
            results: list[list[dict[str, Any]]] = []
            while cursor.nextset():  # the first result set is BEGIN's
                results.append(cursor.fetchall() if cursor.description else [])
        except psycopg.Error:
            if not self._conn.closed and self._conn.info.transaction_status != (
                pq.TransactionStatus.IDLE
            ):
                try:
                    self._conn.execute("ROLLBACK")
                except psycopg.Error:
                    self._conn.close()
            raise
        return results[skipped:-1]  # the queries' results: not the prelude's, not COMMIT's


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


@contextmanager
def read_transaction(
    *, workspace_id: UUID | str | None = None, public_token: str | None = None
) -> Iterator[Connection]:
    """Like rls_transaction, for work that only reads: one round trip (none if nothing is
    fetched). What it yields answers execute/fetchone/fetchall only."""
    scope = _scope(workspace_id, public_token)
    conn = _acquire()
    batch = ReadBatch(conn, scope, str(get_settings().db_statement_timeout_ms))
    try:
        yield cast(Connection, batch)
    except psycopg.OperationalError as exc:
        raise _unavailable(conn) from exc
    finally:
        _release(conn)


@contextmanager
def unscoped_transaction() -> Iterator[Connection]:
    """A transaction with no RLS scope: for role checks and health, sees no tenant rows."""
    conn = _acquire()
    try:
        with conn.transaction():
            yield conn
    except psycopg.OperationalError as exc:
        conn.close()
        raise ServiceUnavailable("the database is unavailable") from exc
    finally:
        _release(conn)


def app_role_problems(conn: Connection) -> list[str]:
    """Why this connection's role must not serve requests (empty when it is safe)."""
    row = conn.execute(
        """
        SELECT r.rolname, r.rolsuper, r.rolbypassrls,
               (SELECT count(*) FROM pg_tables t
                 WHERE t.schemaname = 'public' AND t.tableowner = r.rolname) AS owned_tables
          FROM pg_roles r WHERE r.rolname = current_user
        """
    ).fetchone()
    assert row is not None
    problems = []
    if row["rolsuper"]:
        problems.append(f"role {row['rolname']} is a superuser")
    if row["rolbypassrls"]:
        problems.append(f"role {row['rolname']} can bypass row-level security")
    if row["owned_tables"]:
        problems.append(f"role {row['rolname']} owns {row['owned_tables']} tables")
    return problems
