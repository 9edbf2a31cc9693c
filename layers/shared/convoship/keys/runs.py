"""The ledger of `rotate-keys --data` runs: an interrupted run is resumed by the next
invocation with the same scope, so no workspace is rotated twice for one request."""

from __future__ import annotations

from uuid import UUID

from convoship.keys.session import KeysSession


def start_or_resume(
    session: KeysSession, workspace_id: UUID | str | None, started_by: str
) -> tuple[UUID, bool]:
    """(run id, resumed): the oldest unfinished run of this scope, else a new one."""
    row = session.conn.execute(
        "SELECT id FROM data_key_rotations WHERE finished_at IS NULL"
        " AND workspace_id IS NOT DISTINCT FROM %s::uuid ORDER BY started_at LIMIT 1",
        (workspace_id,),
    ).fetchone()
    if row is not None:
        return row["id"], True
    row = session.conn.execute(
        "INSERT INTO data_key_rotations (workspace_id, started_by) VALUES (%s, %s) RETURNING id",
        (workspace_id, started_by),
    ).fetchone()
    assert row is not None
    return row["id"], False


def finish(session: KeysSession, run_id: UUID) -> None:
    session.conn.execute(
        "UPDATE data_key_rotations SET finished_at = now() WHERE id = %s", (run_id,)
    )
