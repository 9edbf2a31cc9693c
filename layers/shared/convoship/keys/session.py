"""The key custodian's database session: its own connection as convoship_keys, one
workspace per transaction (the same RLS scope a request has), one rotation at a time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row

from convoship.core.errors import ConfigurationError, Conflict, NotFound, ServiceUnavailable
from convoship.core.settings import Settings

Connection = psycopg.Connection[dict[str, Any]]
_ROTATION_LOCK = 7_412_118_302  # pg_try_advisory_lock key: one rotation at a time


@dataclass
class KeysSession:
    conn: Connection
    statement_timeout_ms: int

    def workspace_ids(self, only: UUID | str | None = None) -> list[UUID]:
        """Every workspace id in order, or just `only` (NotFound when it does not exist)."""
        if only is not None:
            row = self.conn.execute("SELECT id FROM workspaces WHERE id = %s", (only,)).fetchone()
            if row is None:
                raise NotFound(f"no workspace {only}")
            return [row["id"]]
        return [r["id"] for r in self.conn.execute("SELECT id FROM workspaces ORDER BY id")]

    def exists(self, workspace_id: object) -> bool:
        row = self.conn.execute("SELECT 1 FROM workspaces WHERE id = %s", (workspace_id,))
        return row.fetchone() is not None

    @contextmanager
    def workspace(self, workspace_id: object) -> Iterator[Connection]:
        """A transaction that sees this workspace's rows only (as a request does)."""
        with self.conn.transaction():
            self.conn.execute(
                "SELECT set_config('app.workspace_id', %s, true),"
                " set_config('statement_timeout', %s, true)",
                (str(workspace_id), str(self.statement_timeout_ms)),
            )
            yield self.conn


@contextmanager
def keys_session(settings: Settings, *, rotation: bool = False) -> Iterator[KeysSession]:
    """A session as convoship_keys. rotation=True also takes the rotation lock for the
    session's life (released by the server even when the process is killed)."""
    url = settings.keys_database_url
    if not url:
        raise ConfigurationError(
            "CONVOSHIP_KEYS_DATABASE_URL (or CONVOSHIP_KEYS_DATABASE_SECRET_ARN) is not set:"
            " key rotation and crypto-shredding run as the convoship_keys role"
        )
    try:
        with psycopg.connect(
            url,
            autocommit=True,
            connect_timeout=settings.db_connect_timeout_s,
            application_name="convoship-keys",
            prepare_threshold=None,
            row_factory=dict_row,
        ) as conn:
            if rotation:
                row = conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (_ROTATION_LOCK,))
                locked = row.fetchone()
                if not (locked and locked["ok"]):
                    raise Conflict("another key rotation is running; retry when it has finished")
            try:
                yield KeysSession(conn, settings.db_statement_timeout_ms)
            finally:
                # A closed connection's backend lets go of the lock a moment later only.
                if rotation and not conn.closed and not conn.broken:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (_ROTATION_LOCK,))
    except psycopg.OperationalError as exc:
        raise ServiceUnavailable("the database is unavailable") from exc
