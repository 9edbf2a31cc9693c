"""read_transaction: one round trip on the wire, values bound safely, the scope kept to the
transaction, and a failed batch rolled back with the connection left clean."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from convoship_bench.wire import CountingProxy
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from convoship.core import constants as env
from convoship.core.settings import reset_settings
from convoship.db.connection import close_all
from convoship.db.read_batch import batch_transaction, read_transaction, write_batch
from convoship.db.transactions import unscoped_transaction
from tests.support.rpm_caps import UPSERT_CAP, cap_of


@pytest.fixture
def proxy(database: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    """The app role's connections through a round-trip counter."""
    params = conninfo_to_dict(database.app_url)
    with psycopg.connect(database.app_url) as probe:
        socket_dir, port = probe.info.host, probe.info.port
    listen = tmp_path / f".s.PGSQL.{port}"
    with CountingProxy(Path(socket_dir) / f".s.PGSQL.{port}", listen) as counting:
        params.update(host=str(tmp_path), port=str(port))
        close_all()
        monkeypatch.setenv(env.DATABASE_URL, make_conninfo(**params))
        reset_settings()
        yield counting
        close_all()


def test_a_read_is_one_round_trip(proxy: Any, workspace: uuid.UUID) -> None:
    with read_transaction(workspace_id=workspace):
        pass  # opens the connection
    proxy.reset()
    with read_transaction(workspace_id=workspace) as conn:
        first = conn.execute("SELECT current_setting('app.workspace_id') AS ws")
        second = conn.execute("SELECT count(*) AS n FROM workspaces")
        assert first.fetchone() == {"ws": str(workspace)}
        assert second.fetchall() == [{"n": 1}]
    assert proxy.snapshot().round_trips == 1
    proxy.reset()
    with read_transaction(workspace_id=workspace) as conn:
        conn.execute("SELECT 1")  # never fetched: nothing is sent
    assert proxy.snapshot().round_trips == 0


def test_an_embed_batch_sets_scope_timeout_and_role_in_one_statement() -> None:
    with read_transaction(public_token="tok-abc") as conn:
        cursor = conn.execute(
            "SELECT current_user AS who, current_setting('statement_timeout') AS timeout,"
            " current_setting('app.ai_agent_public_token') AS token"
        )
        text = conn.sql()  # type: ignore[attr-defined]
        row = cursor.fetchone()
    assert row == {"who": "convoship_embed", "timeout": "10s", "token": "tok-abc"}
    assert text.startswith("SELECT set_config(")  # the scope: the one statement before them
    assert text.split(";\n")[1:] == [  # no BEGIN or COMMIT: the message is the transaction
        "SELECT current_user AS who, current_setting('statement_timeout') AS timeout,"
        " current_setting('app.ai_agent_public_token') AS token"
    ]


@pytest.mark.parametrize(("durable", "setting"), [(True, "on"), (False, "off")])
def test_a_batch_that_may_die_with_a_crash_does_not_wait_for_the_flush(
    workspace: uuid.UUID, durable: bool, setting: str
) -> None:
    with batch_transaction(workspace_id=workspace, durable=durable) as conn:
        row = conn.execute("SELECT current_setting('synchronous_commit') AS wait").fetchone()
    assert row == {"wait": setting}
    with read_transaction(workspace_id=workspace) as conn:  # transaction-local: gone after
        row = conn.execute("SELECT current_setting('synchronous_commit') AS wait").fetchone()
    assert row == {"wait": "on"}


def test_a_write_batch_commits_at_the_end_of_the_block_in_one_round_trip(
    proxy: Any, workspace: uuid.UUID, owner_sql: Any
) -> None:
    with read_transaction(workspace_id=workspace):
        pass  # opens the connection
    proxy.reset()
    with write_batch(workspace_id=workspace) as conn:
        conn.execute(UPSERT_CAP, {"ws": workspace, "cap": 7})
        conn.execute(UPSERT_CAP, {"ws": workspace, "cap": 8})
        assert proxy.snapshot().round_trips == 0  # queued, not sent
    assert proxy.snapshot().round_trips == 1
    assert cap_of(owner_sql, workspace) == 8


def test_a_write_batch_sends_nothing_when_its_block_raises(
    proxy: Any, workspace: uuid.UUID, owner_sql: Any
) -> None:
    with read_transaction(workspace_id=workspace):
        pass
    proxy.reset()
    with pytest.raises(RuntimeError), write_batch(workspace_id=workspace) as conn:
        conn.execute(UPSERT_CAP, {"ws": workspace, "cap": 9})
        raise RuntimeError("the caller changed its mind")
    assert proxy.snapshot().round_trips == 0
    assert cap_of(owner_sql, workspace) != 9


def test_a_failed_write_batch_writes_nothing(workspace: uuid.UUID, owner_sql: Any) -> None:
    with pytest.raises(psycopg.errors.DivisionByZero), write_batch(workspace_id=workspace) as conn:
        conn.execute(UPSERT_CAP, {"ws": workspace, "cap": 11})
        conn.execute("SELECT 1 / 0")
    assert cap_of(owner_sql, workspace) != 11
    with write_batch(workspace_id=workspace) as conn:  # the connection is clean again
        conn.execute(UPSERT_CAP, {"ws": workspace, "cap": 12})
    assert cap_of(owner_sql, workspace) == 12


def test_a_failing_statement_undoes_the_earlier_ones_in_the_same_round_trip(
    proxy: Any, workspace: uuid.UUID, owner_sql: Any
) -> None:
    """The message is one implicit transaction: the write before the failing statement is
    rolled back by the server, and no ROLLBACK has to follow."""
    with write_batch(workspace_id=workspace) as conn:
        conn.execute(UPSERT_CAP, {"ws": workspace, "cap": 21})
    proxy.reset()
    with pytest.raises(psycopg.errors.DivisionByZero), write_batch(workspace_id=workspace) as conn:
        conn.execute(UPSERT_CAP, {"ws": workspace, "cap": 22})
        conn.execute("SELECT 1 / 0")
        conn.execute(UPSERT_CAP, {"ws": workspace, "cap": 23})
    assert proxy.snapshot().round_trips == 1
    assert cap_of(owner_sql, workspace) == 21
    with batch_transaction(workspace_id=workspace) as conn:  # clean, and in its own scope
        row = conn.execute(
            "SELECT current_setting('app.workspace_id') AS ws,"
            " pg_current_xact_id_if_assigned() IS NULL AS fresh"
        ).fetchone()
    assert row == {"ws": str(workspace), "fresh": True}


@pytest.mark.parametrize(
    "value", ["it's", "back\\slash", "100%", "%(ws)s", "'; DROP TABLE workspaces; --", "été ✓"]
)
def test_values_are_bound_not_spliced(workspace: uuid.UUID, value: str) -> None:
    with read_transaction(workspace_id=workspace) as conn:
        row = conn.execute("SELECT %s::text AS v", (value,)).fetchone()
    assert row == {"v": value}


def test_a_failed_batch_rolls_back_and_leaves_nothing_behind(
    workspace: uuid.UUID, other_workspace: uuid.UUID
) -> None:
    with (
        pytest.raises(psycopg.errors.DivisionByZero),
        read_transaction(workspace_id=workspace) as conn,
    ):
        conn.execute("SELECT 1 AS one")
        conn.execute("SELECT 1 / 0 AS boom").fetchone()
    with read_transaction(workspace_id=other_workspace) as conn:
        row = conn.execute(
            "SELECT current_setting('app.workspace_id') AS ws, count(*) AS n FROM workspaces"
        ).fetchone()
    assert row == {"ws": str(other_workspace), "n": 1}
    with unscoped_transaction() as conn:
        row = conn.execute("SELECT current_setting('app.workspace_id', true) AS ws").fetchone()
    assert row is not None and not row["ws"]


def test_no_query_after_the_first_fetch(workspace: uuid.UUID) -> None:
    with read_transaction(workspace_id=workspace) as conn:
        conn.execute("SELECT 1").fetchone()
        with pytest.raises(RuntimeError):
            conn.execute("SELECT 2")


@pytest.mark.parametrize(
    "slug", ["it's", "a%25b", "back%5Cslash", "x%27%3B%20DROP%20TABLE%20workspaces"]
)
def test_hostile_path_values_through_read_routes(
    api: Any, token: Any, workspace: uuid.UUID, slug: str
) -> None:
    viewer = token(workspace, "viewer")
    for path in (f"/v1/ai-agents/{slug}", f"/v1/ai-agents/{slug}/versions"):
        response = api.get(path, token=viewer)
        assert response.status == 404, response.text
    assert api.get("/v1/ai-agents", token=viewer).status == 200
