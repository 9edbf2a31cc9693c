"""Migrations: ordered, applied once, safe to run concurrently (advisory lock)."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import psycopg

from convoship.db.migrate import migrate, migration_files
from convoship_dev import services


def test_files_are_ordered_and_a_rerun_applies_nothing(database: services.Database) -> None:
    versions = [version for version, _ in migration_files()]
    assert versions == sorted(versions) and versions[0].startswith("0001")
    assert migrate(database.owner_admin_url) == []


def test_concurrent_migrators_apply_each_version_once(database: services.Database) -> None:
    dbname = f"convoship_migrate_{uuid.uuid4().hex[:8]}"
    services.create_database(database.admin_url, dbname, exist_ok=False)
    target = services.Database(admin_url=database.admin_url, dbname=dbname).owner_admin_url
    results: list[Any] = []

    def run() -> None:
        try:
            results.append(migrate(target))
        except Exception as exc:  # collected and asserted below
            results.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert not [r for r in results if isinstance(r, Exception)], results
        applied = sorted(v for r in results for v in r)
        assert applied == [version for version, _ in migration_files()]  # once each, in all
        with psycopg.connect(target) as conn:
            row = conn.execute("SELECT count(*) FROM schema_migrations").fetchone()
            assert row is not None and row[0] == len(applied)
    finally:
        services.drop_database(database.admin_url, dbname)


def test_audit_chain_migration_completes_and_chains_existing_rows(
    database: services.Database, monkeypatch: Any
) -> None:
    """Rows written before 0007 get their agent (from the agent event of the same
    transaction) and join the chain in order; running 0007's SQL again changes nothing."""
    from convoship.audit.verify import verify_workspace_chain
    from convoship.core import constants as env
    from convoship.core.settings import reset_settings
    from convoship.db import migrate as migrate_module
    from convoship.db.connection import close_all

    dbname = f"convoship_chain_{uuid.uuid4().hex[:8]}"
    services.create_database(database.admin_url, dbname, exist_ok=False)
    target = services.Database(admin_url=database.admin_url, dbname=dbname)
    every = migration_files()
    before = [(v, body) for v, body in every if v < "0007"]
    try:
        monkeypatch.setattr(migrate_module, "migration_files", lambda: before)
        migrate(target.owner_admin_url)
        with psycopg.connect(target.owner_admin_url) as conn:
            ws = conn.execute(
                "INSERT INTO workspaces (name) VALUES ('old') RETURNING id"
            ).fetchone()
            assert ws is not None
            agent = uuid.uuid4()
            for n in range(3):
                with conn.transaction():  # the old dual write: one transaction per action
                    conn.execute(
                        "INSERT INTO ai_agent_audit_events (workspace_id, agent_id, agent_slug,"
                        " actor_type, actor_id, action, target_type, target_id)"
                        " VALUES (%s, %s, 'old-bot', 'user', 'u', 'agent.updated', 'agent', %s)",
                        (ws[0], agent, str(agent)),
                    )
                    conn.execute(
                        "INSERT INTO audit_log (workspace_id, actor_type, actor_id, action,"
                        " resource_type, resource_id, after_state)"
                        " VALUES (%s, 'user', 'u', 'agent.updated', 'agent', %s, %s::jsonb)",
                        (ws[0], str(agent), f'{{"n": {n}}}'),
                    )
            conn.execute(
                "INSERT INTO audit_log (workspace_id, actor_type, actor_id, action,"
                " resource_type) VALUES (%s, 'user', 'u', 'secret.created', 'secret')",
                (ws[0],),
            )
            conn.commit()
        monkeypatch.setattr(migrate_module, "migration_files", lambda: every)
        assert migrate(target.owner_admin_url) == [v for v, _ in every if v >= "0007"]
        with psycopg.connect(target.owner_admin_url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT seq, agent_id, agent_slug, action FROM audit_log ORDER BY seq"
            ).fetchall()
            assert rows == [
                (1, agent, "old-bot", "agent.updated"),
                (2, agent, "old-bot", "agent.updated"),
                (3, agent, "old-bot", "agent.updated"),
                (4, None, None, "secret.created"),
            ]
            body = dict(every)["0007_audit_chain"]
            with conn.transaction():
                conn.execute("SET LOCAL ROLE convoship_owner")
                conn.execute(body.encode())  # idempotent
            again = conn.execute(
                "SELECT seq, agent_id, agent_slug, action FROM audit_log ORDER BY seq"
            )
            assert again.fetchall() == rows
        monkeypatch.setenv(env.DATABASE_URL, target.app_url)
        reset_settings()
        close_all()
        result = verify_workspace_chain(ws[0])
        assert result["ok"] and result["rows"] == 4, result
    finally:
        close_all()
        services.drop_database(database.admin_url, dbname)
