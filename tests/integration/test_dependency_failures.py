"""A dependency that is down gives 503 with Retry-After, and the service recovers."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from convoship import db
from convoship.settings import reset_settings

Conn = psycopg.Connection[dict[str, Any]]


def test_database_down_is_503_with_retry_after(
    api: Any,
    workspace: uuid.UUID,
    token: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    db.close_all()
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
    with db.rls_transaction(workspace_id=workspace) as conn:
        row = conn.execute("SELECT current_setting('statement_timeout') AS t").fetchone()
        assert row is not None and row["t"] == "10s"
    with db.unscoped_transaction() as conn:
        row = conn.execute("SELECT current_setting('statement_timeout') AS t").fetchone()
        assert row is not None and row["t"] == "0"
