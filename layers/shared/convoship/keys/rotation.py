"""`rotate-keys`: re-wrap every data key under the current master, or give workspaces new
data keys and re-seal their values. Batched, resumable, idempotent, safe while serving.

--master: per workspace, one transaction re-wraps the versions not under the current
master (work proportional to workspaces), after converting any value still in a format
from before data keys (those are sealed with the master itself). Afterwards the old master
can be removed.
--data: per workspace, a new version (made once per run: the run ledger remembers it),
then every value not under it re-sealed in batches, then the old versions deleted under the
exclusive key lock, so no write in flight loses the version it sealed with. Requests read a
ciphertext and the version it names in one snapshot, so reads never miss a key either.
One audit row per workspace changed (actor `system`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

import psycopg

from convoship.audit.record import Actor, record
from convoship.core.settings import Settings
from convoship.keys import runs
from convoship.keys.options import Options, Progress, RotationReport
from convoship.keys.reseal import (
    Scope,
    legacy_values,
    reseal_byok_key,
    reseal_secrets,
    values_left,
)
from convoship.keys.session import Connection, KeysSession, keys_session
from convoship.security.context import WrappedDataKey
from convoship.security.key_store import (
    EXCLUSIVE_LOCK_SQL,
    KEY_COLUMNS,
    insert_key,
    lock_params,
    newest_key,
)

__all__ = ["Options", "Progress", "RotationReport", "rotate_data", "rotate_master"]


class _Stopped(Exception):
    pass


class _Rotation:
    def __init__(self, session: KeysSession, report: RotationReport, options: Options) -> None:
        self.session = session
        self.report = report
        self.options = options

    def tick(self) -> None:
        if self.options.progress:
            report = self.report
            self.options.progress(report.workspaces_done, report.workspaces, report.values_resealed)

    def checkpoint(self) -> None:
        self.tick()
        if self.options.should_stop and self.options.should_stop():
            raise _Stopped
        if self.options.pause_s:
            time.sleep(self.options.pause_s)

    def reseal(self, workspace_id: UUID, scope: Scope) -> int:
        """Move every value in scope under scope.target, a batch per transaction."""
        moved = 0
        while True:
            with self.session.workspace(workspace_id) as conn:
                count = reseal_secrets(conn, workspace_id, scope, self.options.batch_size)
                if count < self.options.batch_size:
                    count += reseal_byok_key(conn, workspace_id, scope)
            moved += count
            self.report.values_resealed += count
            if count == 0:
                return moved
            self.checkpoint()

    def audit(self, conn: Connection, workspace_id: UUID, action: str, after: Any) -> None:
        actor = Actor(workspace_id, "system", "system", self.options.request_id)
        record(conn, actor, action=action, resource_type="workspace_data_key", after=after)

    def each_workspace(self, ids: list[UUID], step: Callable[[UUID], bool]) -> None:
        self.report.workspaces = len(ids)
        self.tick()
        for workspace_id in ids:
            try:
                changed = step(workspace_id)
            except psycopg.errors.ForeignKeyViolation:
                if self.session.exists(workspace_id):
                    raise
                changed = False  # deleted meanwhile: nothing left to protect
            self.report.workspaces_done += 1
            self.report.workspaces_changed += int(changed)
            self.checkpoint()

    # --- master ------------------------------------------------------------------------

    def master_step(self, workspace_id: UUID, master_id: str) -> bool:
        from convoship.security.data_keys import new_data_key, unwrap, wrap  # lazy

        converted = 0
        with self.session.workspace(workspace_id) as conn:
            conn.execute(EXCLUSIVE_LOCK_SQL, lock_params(workspace_id))
            newest = None
            if legacy_values(conn, workspace_id):
                newest = newest_key(conn, workspace_id) or insert_key(
                    conn, new_data_key(workspace_id, 1)
                )
        if newest is not None:
            converted = self.reseal(workspace_id, Scope(newest, legacy_only=True))
        with self.session.workspace(workspace_id) as conn:
            stale = [
                WrappedDataKey.of(r)
                for r in conn.execute(
                    f"SELECT {KEY_COLUMNS} FROM workspace_data_keys"
                    " WHERE workspace_id = %s AND master_key_id <> %s ORDER BY version FOR UPDATE",
                    (workspace_id, master_id),
                ).fetchall()
            ]
            for old in stale:
                assert old is not None
                new = wrap(unwrap(old), old.workspace_id, old.version)
                conn.execute(
                    "UPDATE workspace_data_keys SET wrapped_key = %s, master_key_id = %s,"
                    " rewrapped_at = now() WHERE workspace_id = %s AND version = %s",
                    (new.wrapped_key, new.master_key_id, workspace_id, old.version),
                )
            self.report.keys_rewrapped += len(stale)
            if stale or converted:
                versions = [k.version for k in stale if k is not None]
                self.audit(
                    conn,
                    workspace_id,
                    "keys.master_rewrapped",
                    {"master_key_id": master_id, "versions": versions, "converted": converted},
                )
        return bool(stale or converted)

    # --- data --------------------------------------------------------------------------

    def data_step(self, workspace_id: UUID, run_id: UUID) -> bool:
        from convoship.security.data_keys import new_data_key  # lazy: cryptography

        with self.session.workspace(workspace_id) as conn:
            conn.execute(EXCLUSIVE_LOCK_SQL, lock_params(workspace_id))
            versions = conn.execute(
                "SELECT version, rotation_run FROM workspace_data_keys WHERE workspace_id = %s"
                " ORDER BY version DESC",
                (workspace_id,),
            ).fetchall()
            newest = versions[0] if versions else None
            if newest is None and not legacy_values(conn, workspace_id):
                return False  # no key and no value: nothing to rotate
            if newest is not None and newest["rotation_run"] == run_id:
                target = newest_key(conn, workspace_id)  # made by this run before a stop
                assert target is not None
                if len(versions) == 1 and not values_left(conn, workspace_id, Scope(target)):
                    return False  # finished before the stop: nothing to do, nothing to record
            else:
                version = newest["version"] + 1 if newest else 1
                target = insert_key(conn, new_data_key(workspace_id, version), run_id)
        assert target is not None
        scope = Scope(target)
        while True:
            self.reseal(workspace_id, scope)
            with self.session.workspace(workspace_id) as conn:
                conn.execute(EXCLUSIVE_LOCK_SQL, lock_params(workspace_id))
                if values_left(conn, workspace_id, scope):
                    continue  # a write sealed with an old version meanwhile: move it too
                retired = conn.execute(
                    "DELETE FROM workspace_data_keys WHERE workspace_id = %s AND version <> %s"
                    " RETURNING version",
                    (workspace_id, target.version),
                ).fetchall()
                self.audit(
                    conn,
                    workspace_id,
                    "keys.data_rotated",
                    {
                        "version": target.version,
                        "retired_versions": sorted(r["version"] for r in retired),
                        "run": str(run_id),
                    },
                )
                return True


def rotate_master(
    settings: Settings, *, workspace_id: UUID | str | None = None, options: Options = Options()
) -> RotationReport:
    """Re-wrap every data key (of every workspace, or one) under the current master."""
    from convoship.security.data_keys import current_master_id  # lazy: cryptography

    report = RotationReport(mode="master")
    with keys_session(settings, rotation=True) as session:
        rotation = _Rotation(session, report, options)
        master_id = current_master_id()
        try:
            rotation.each_workspace(
                session.workspace_ids(workspace_id), lambda ws: rotation.master_step(ws, master_id)
            )
        except _Stopped:
            return report
    report.finished = True
    return report


def rotate_data(
    settings: Settings,
    *,
    workspace_id: UUID | str | None = None,
    started_by: str = "system",
    options: Options = Options(),
) -> RotationReport:
    """New data keys for every workspace (or one); values re-sealed, old keys deleted."""
    report = RotationReport(mode="data")
    with keys_session(settings, rotation=True) as session:
        ids = session.workspace_ids(workspace_id)
        run_id, report.resumed = runs.start_or_resume(session, workspace_id, started_by)
        report.run_id = str(run_id)
        rotation = _Rotation(session, report, options)
        try:
            rotation.each_workspace(ids, lambda ws: rotation.data_step(ws, run_id))
        except _Stopped:
            return report
        runs.finish(session, run_id)
    report.finished = True
    return report
