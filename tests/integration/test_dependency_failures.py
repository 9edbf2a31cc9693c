"""A dependency that is down gives 503 with Retry-After, and the service recovers."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from convoship.core.settings import reset_settings
from convoship.db.connection import close_all
from convoship.db.transactions import rls_transaction, unscoped_transaction

Conn = psycopg.Connection[dict[str, Any]]


def test_database_down_is_503_with_retry_after(
    api: Any,
    workspace: uuid.UUID,
    token: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    close_all()
    monkeypatch.setenv("DATABASE_URL", f"postgresql://convoship_app@/x?host={tmp_path}")
    reset_settings()
    response = api.get("/v1/workspaces/agent-ops", token=token(workspace, "viewer"))
    assert response.status == 503
    assert response.json()["type"] == "/problems/service-unavailable"
    assert int(response.headers["retry-after"]) > 0
    write = api.post(
        "/v1/secrets", token=token(workspace, "admin"), json={"name": "K", "value": "v"}
    )
    assert write.status == 503


def test_killed_connection_recovers_on_the_next_request(
    api: Any, workspace: uuid.UUID, token: Callable[..., str], owner_sql: Conn
) -> None:
    viewer = token(workspace, "viewer")
    assert api.get("/v1/secrets", token=viewer).status == 200
    owner_sql.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE usename = 'convoship_app' AND application_name = 'convoship'"
    )
    first = api.get("/v1/secrets", token=viewer)
    assert first.status in (200, 503)  # the dead socket may be noticed by this request
    assert api.get("/v1/secrets", token=viewer).status == 200


def test_statement_timeout_is_transaction_local(workspace: uuid.UUID) -> None:
    with rls_transaction(workspace_id=workspace) as conn:
        row = conn.execute("SELECT current_setting('statement_timeout') AS t").fetchone()
        assert row is not None and row["t"] == "10s"
    with unscoped_transaction() as conn:
        row = conn.execute("SELECT current_setting('statement_timeout') AS t").fetchone()
        assert row is not None and row["t"] == "0"


def test_a_conflict_leaves_no_pipeline_warning_and_a_clean_connection(
    api: Any, workspace: uuid.UUID, token: Callable[..., str], caplog: pytest.LogCaptureFixture
) -> None:
    editor = token(workspace, "editor")
    assert api.post("/v1/ai-agents", token=editor, json={"name": "Twin"}).status == 201
    with caplog.at_level("WARNING", logger="psycopg"):
        assert api.post("/v1/ai-agents", token=editor, json={"name": "Twin"}).status == 409
    assert [r.getMessage() for r in caplog.records if r.name.startswith("psycopg")] == []
    with rls_transaction(workspace_id=workspace) as conn:
        row = conn.execute("SELECT count(*) AS n FROM ai_agents").fetchone()
        assert row is not None and row["n"] == 1


def test_statement_timeout_is_503_and_keeps_the_connection(
    workspace: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    from convoship.core.errors import ServiceUnavailable

    monkeypatch.setenv("CONVOSHIP_DB_STATEMENT_TIMEOUT_MS", "100")
    reset_settings()
    with rls_transaction(workspace_id=workspace) as conn:
        pid = conn.info.backend_pid
    with pytest.raises(ServiceUnavailable), rls_transaction(workspace_id=workspace) as conn:
        conn.execute("SELECT pg_sleep(1)").fetchone()
    with rls_transaction(workspace_id=workspace) as conn:
        assert conn.info.backend_pid == pid  # the same, healthy connection
        row = conn.execute("SELECT current_setting('app.workspace_id') AS w").fetchone()
        assert row is not None and row["w"] == str(workspace)
