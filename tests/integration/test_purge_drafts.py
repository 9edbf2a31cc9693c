"""The scheduled purge: stale drafts of every workspace go, fresh ones stay, one audit row
per affected workspace, run as the convoship_purge role with the events/ file."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from convoship.core import constants as env
from convoship.core.errors import ConfigurationError, ServiceUnavailable
from convoship.core.settings import reset_settings
from convoship_dev.handlers import load_handler
from convoship_dev.lambda_events import LambdaContext
from convoship_dev.template import load_template
from tests.support.agents import Conn

ROOT = Path(__file__).resolve().parents[2]
FUNCTION = load_template(ROOT / "template.yaml").find_function("purge_drafts")
EVENT = json.loads((ROOT / "events" / "purge_drafts" / "scheduled.json").read_text())


def add_draft(owner_sql: Conn, workspace: uuid.UUID, age_days: int) -> str:
    row = owner_sql.execute(
        "INSERT INTO ai_agent_drafts (workspace_id, data, updated_at)"
        " VALUES (%s, '{}', now() - make_interval(days => %s)) RETURNING id",
        (workspace, age_days),
    ).fetchone()
    assert row is not None
    return str(row["id"])


def drafts(owner_sql: Conn, workspace: uuid.UUID) -> set[str]:
    rows = owner_sql.execute(
        "SELECT id FROM ai_agent_drafts WHERE workspace_id = %s", (workspace,)
    ).fetchall()
    return {str(r["id"]) for r in rows}


def purge_audit(owner_sql: Conn, workspace: uuid.UUID) -> list[dict[str, Any]]:
    return owner_sql.execute(
        "SELECT actor_type, actor_id, action, after_state FROM audit_log"
        " WHERE workspace_id = %s AND action = 'drafts.purged'",
        (workspace,),
    ).fetchall()


def run() -> Any:
    return load_handler(FUNCTION)(EVENT, LambdaContext(FUNCTION))


def test_purges_stale_drafts_everywhere_and_audits_each_workspace(
    owner_sql: Conn, make_workspace: Any
) -> None:
    a, b, c = make_workspace("A"), make_workspace("B"), make_workspace("C")
    add_draft(owner_sql, a, 45)
    add_draft(owner_sql, a, 31)
    fresh_a = add_draft(owner_sql, a, 2)
    add_draft(owner_sql, b, 400)
    fresh_c = add_draft(owner_sql, c, 29)
    before = owner_sql.execute("SELECT count(*) AS n FROM ai_agent_drafts").fetchone()
    result = run()
    after = owner_sql.execute("SELECT count(*) AS n FROM ai_agent_drafts").fetchone()
    assert before is not None and after is not None
    assert result == {"purged": before["n"] - after["n"]} and result["purged"] >= 3
    assert drafts(owner_sql, a) == {fresh_a} and drafts(owner_sql, b) == set()
    assert drafts(owner_sql, c) == {fresh_c}
    audit_a = purge_audit(owner_sql, a)
    assert len(audit_a) == 1
    assert audit_a[0]["actor_type"] == "system" and audit_a[0]["actor_id"] == "system"
    assert audit_a[0]["after_state"] == {"purged": 2, "retention_days": 30}
    assert len(purge_audit(owner_sql, b)) == 1 and purge_audit(owner_sql, c) == []
    assert run() == {"purged": 0}  # nothing left to do: no new audit rows
    assert len(purge_audit(owner_sql, a)) == 1


def test_retention_comes_from_the_environment(
    owner_sql: Conn, make_workspace: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = make_workspace()
    add_draft(owner_sql, workspace, 8)
    keep = add_draft(owner_sql, workspace, 3)
    monkeypatch.setenv(env.DRAFT_RETENTION_DAYS, "5")
    reset_settings()
    run()
    assert drafts(owner_sql, workspace) == {keep}
    assert purge_audit(owner_sql, workspace)[0]["after_state"]["retention_days"] == 5


def test_needs_the_purge_role_and_a_reachable_database(
    monkeypatch: pytest.MonkeyPatch, owner_sql: Conn, make_workspace: Any
) -> None:
    workspace = make_workspace()
    stale = add_draft(owner_sql, workspace, 90)
    monkeypatch.delenv(env.PURGE_DATABASE_URL)
    reset_settings()
    with pytest.raises(ConfigurationError):
        run()
    monkeypatch.setenv(env.PURGE_DATABASE_URL, "postgresql://nobody@127.0.0.1:9/none")
    reset_settings()
    with pytest.raises(ServiceUnavailable):
        run()
    assert drafts(owner_sql, workspace) == {stale}
    owner_sql.execute("DELETE FROM ai_agent_drafts WHERE id = %s", (stale,))  # for later tests
