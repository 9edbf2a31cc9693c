"""Where workspace data keys live: `workspace_data_keys`, one row per version, wrapped.

Readers fetch the wrapped key a ciphertext names in the same query as the ciphertext
(`data_key_sql`), so decrypting costs no extra round trip. Writers seal with the newest
version (`data_key_for_write`), holding a shared advisory lock on the workspace's keys until
their commit: a rotation retires old versions under the exclusive lock, so it never drops a
version a write in flight is using. The foreign key from each ciphertext row to its version
is the database's own guarantee that no ciphertext outlives its key.
"""

from __future__ import annotations

from typing import Any

import psycopg

from convoship.core.errors import NotFound
from convoship.db.connection import Connection
from convoship.security.context import WrappedDataKey

KEY_COLUMNS = "workspace_id, version, wrapped_key, master_key_id"
# pg_advisory_xact_lock(int, int) key space: (this class, hashtext(workspace id)).
_LOCK_CLASS = 0x44_4B_45_59  # "DKEY"
SHARED_LOCK_SQL = "SELECT pg_advisory_xact_lock_shared(%s, hashtext(%s))"
EXCLUSIVE_LOCK_SQL = "SELECT pg_advisory_xact_lock(%s, hashtext(%s))"


def lock_params(workspace_id: object) -> tuple[int, str]:
    return _LOCK_CLASS, str(workspace_id)


def data_key_sql(table: str) -> str:
    """A column expression: the wrapped key the row's ciphertext names, as JSON (NULL when
    the row holds none, or a format before data keys). Looked up only when needed."""
    return (
        f"CASE WHEN {table}.data_key_version IS NOT NULL THEN (SELECT jsonb_build_object("
        "'workspace_id', k.workspace_id, 'version', k.version, 'wrapped_key', k.wrapped_key,"
        " 'master_key_id', k.master_key_id) FROM workspace_data_keys k"
        f" WHERE k.workspace_id = {table}.workspace_id AND k.version = {table}.data_key_version)"
        " END"
    )


def data_key_of(value: dict[str, Any] | None) -> WrappedDataKey | None:
    return WrappedDataKey.of(value)


def newest_key(conn: Connection, workspace_id: object) -> WrappedDataKey | None:
    row = conn.execute(
        f"SELECT {KEY_COLUMNS} FROM workspace_data_keys WHERE workspace_id = %s"
        " ORDER BY version DESC LIMIT 1",
        (workspace_id,),
    ).fetchone()
    return WrappedDataKey.of(row)


def insert_key(
    conn: Connection, key: WrappedDataKey, rotation_run: object = None
) -> WrappedDataKey | None:
    """Store a new version; None when that version exists already (a concurrent writer)."""
    row = conn.execute(
        "INSERT INTO workspace_data_keys"
        " (workspace_id, version, wrapped_key, master_key_id, rotation_run)"
        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (workspace_id, version) DO NOTHING"
        f" RETURNING {KEY_COLUMNS}",
        (key.workspace_id, key.version, key.wrapped_key, key.master_key_id, rotation_run),
    ).fetchone()
    return WrappedDataKey.of(row)


def data_key_for_write(conn: Connection, workspace_id: object) -> WrappedDataKey:
    """The version new values of the workspace are sealed with: the newest, made now if the
    workspace has none. Call inside the write's transaction (it locks until commit)."""
    conn.execute(SHARED_LOCK_SQL, lock_params(workspace_id))
    key = newest_key(conn, workspace_id)
    if key is not None:
        return key
    from convoship.security.data_keys import new_data_key  # lazy: cryptography

    try:
        made = insert_key(conn, new_data_key(workspace_id, 1))
    except psycopg.errors.ForeignKeyViolation:
        raise NotFound("workspace not found") from None
    key = made or newest_key(conn, workspace_id)
    assert key is not None
    return key
