"""The container's database connection: opened lazily, reused, checked before reuse.

Lambda serves one request per container, so the "pool" holds one idle connection there;
the local runner may serve requests concurrently and then holds a few. psycopg_pool would
start background threads for nothing.
"""

from __future__ import annotations

import select
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

import psycopg
from psycopg import abc, adapt, pq
from psycopg.rows import dict_row

from convoship.core.errors import ServiceUnavailable
from convoship.core.settings import get_settings
from convoship.core.snapstart import after_restore

Connection = psycopg.Connection[dict[str, Any]]


# What a Transformer's dumpers and loaders read from the session once, when each is made:
# the encoding text is spelled and read in, the quote bytea values take (E'' or ''), and
# the time zone, date style and interval style dates and times are read back in.
_SESSION_PARAMETERS = (
    b"client_encoding",
    b"standard_conforming_strings",
    b"TimeZone",
    b"DateStyle",
    b"IntervalStyle",
)
KEPT_STATEMENTS = 64  # spelled statements a connection keeps (PooledConnection.spelled)
# The session's parameters, the Transformer made for them, and the statements spelled with
# it and kept (PooledConnection.spelled).
_Kept = tuple[tuple[bytes | None, ...], abc.Transformer, dict[Hashable, bytes]]


class PooledConnection(Connection):
    """The container's connection (acquire): a psycopg connection that keeps the Transformer
    its batches spell values with (db/statement_text.py) and read rows with
    (db/simple_query.py). The dumper and the loader of each type are made once per
    connection, not once per batch (about 35 us a batch to spell; reading with it saves
    about 13,000 instructions of a chat turn)."""

    _spelling: _Kept | None = None

    @property
    def spelling(self) -> abc.Transformer:
        """The kept Transformer, made again when the session's encoding, string quoting,
        time zone, date style or interval style changed since it was made (its dumpers
        would spell for the old ones: text in the wrong encoding, bytea in the wrong quotes,
        values read back as others; its loaders would read times in the old time zone)."""
        return self._kept()[1]

    def spelled(
        self, key: Hashable, spell: Callable[[abc.Transformer], bytes]
    ) -> tuple[bytes, abc.Transformer]:
        """`spell(self.spelling)`, kept under `key` for as long as that Transformer is: for
        a statement spelled the same way every time (a batch's scope statement, about 20 us
        of a chat turn's CPU each time it is spelled again). `key` must name everything the
        text depends on besides the Transformer. At most KEPT_STATEMENTS are kept. With the
        text, the Transformer it stands for: the rest of a message is spelled with it (the
        session cannot change before the message is sent)."""
        _, transformer, texts = self._kept()
        text = texts.get(key)
        if text is None:
            if len(texts) >= KEPT_STATEMENTS:
                texts.clear()
            text = texts[key] = spell(transformer)
        return text, transformer

    def _kept(self) -> _Kept:
        session = tuple(map(self.pgconn.parameter_status, _SESSION_PARAMETERS))
        kept = self._spelling
        if kept is None or kept[0] != session:
            kept = self._spelling = (session, adapt.Transformer(self), {})
        return kept


# A connection idle longer than this is pinged before use: a frozen Lambda container's
# socket may have been dropped by the server or a NAT in between.
_PING_AFTER_IDLE_S = 60.0

_idle: list[tuple[PooledConnection, float]] = []
_idle_lock = threading.Lock()


def _connect() -> PooledConnection:
    settings = get_settings()
    try:
        return PooledConnection.connect(
            settings.require_database_url(),
            autocommit=True,  # BEGIN/COMMIT in rls_transaction; a batch is one implicit one
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


def acquire() -> PooledConnection:
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


def release(conn: PooledConnection) -> None:
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


after_restore(close_all)  # a restored container's sockets are dead (or shared by its clones)


def unavailable(conn: Connection) -> ServiceUnavailable:
    """A 503 for an OperationalError inside a scoped transaction. A lost connection is
    closed; a statement timeout, deadlock or serialization failure is transient: the
    connection is fine (rolled back) and the client may retry."""
    if conn.broken or conn.closed:
        conn.close()
        return ServiceUnavailable("the database is unavailable")
    return ServiceUnavailable("the database is busy; retry shortly", retry_after=1)


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
