"""A batch's settings (scope, role, statement timeout, synchronous_commit) end with its
message's transaction, whatever ends it: a statement timeout, an interruption while the
reply is read, a lost connection. The next batch on the pooled connection starts clean."""

from __future__ import annotations

import signal
import threading
import uuid
from collections.abc import Iterator
from types import FrameType
from typing import Any

import psycopg
import pytest

from convoship.core.errors import ServiceUnavailable
from convoship.db.connection import close_all
from convoship.db.read_batch import batch_transaction, read_transaction

SETTINGS = (
    "SELECT pg_backend_pid() AS pid, current_user AS who,"
    " current_setting('statement_timeout') AS timeout,"
    " current_setting('synchronous_commit') AS sync,"
    " current_setting('app.ai_agent_public_token', true) AS token,"
    " current_setting('app.workspace_id', true) AS ws"
)


@pytest.fixture(autouse=True)
def _fresh_pool() -> Iterator[None]:
    close_all()
    yield
    close_all()


def _settings(workspace: uuid.UUID) -> dict[str, Any]:
    with read_transaction(workspace_id=workspace) as conn:
        row = conn.execute(SETTINGS).fetchone()
    assert row is not None
    return row


def _clean(row: dict[str, Any], workspace: uuid.UUID) -> None:
    assert row["who"] != "convoship_embed"
    assert row["timeout"] == "10s" and row["sync"] == "on"
    assert row["token"] in (None, "") and row["ws"] == str(workspace)


def test_a_statement_timeout_leaves_nothing_behind(workspace: uuid.UUID) -> None:
    pid = _settings(workspace)["pid"]
    with (
        pytest.raises(ServiceUnavailable),
        batch_transaction(public_token="tok-a", durable=False) as conn,
    ):
        conn.execute("SELECT set_config('statement_timeout', '50', true)")
        conn.execute("SELECT pg_sleep(5)").fetchall()
    row = _settings(workspace)
    assert row["pid"] == pid  # the same pooled connection
    _clean(row, workspace)


def test_an_interruption_while_the_reply_is_read_leaves_nothing_behind(
    workspace: uuid.UUID,
) -> None:
    _settings(workspace)

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.3)
    try:
        with (
            pytest.raises(KeyboardInterrupt),
            batch_transaction(public_token="tok-a", durable=False) as conn,
        ):
            conn.execute("SELECT pg_sleep(3)").fetchall()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    _clean(_settings(workspace), workspace)


def test_a_connection_lost_mid_batch_is_a_503_and_the_next_batch_is_clean(
    database: Any, workspace: uuid.UUID
) -> None:
    pid = _settings(workspace)["pid"]

    def kill() -> None:
        with psycopg.connect(database.owner_admin_url, autocommit=True) as admin:
            admin.execute("SELECT pg_sleep(0.3), pg_terminate_backend(%s)", (pid,))

    killer = threading.Thread(target=kill)
    killer.start()
    try:
        with pytest.raises(ServiceUnavailable), batch_transaction(public_token="tok-a") as conn:
            conn.execute("SELECT pg_sleep(3)").fetchall()
    finally:
        killer.join()
    row = _settings(workspace)
    assert row["pid"] != pid
    _clean(row, workspace)
