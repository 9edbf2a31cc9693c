"""Migration 0005 on a database that has secrets and tools already: each secret gets the
hosts of the tools that use it today (audited, actor system), and a rerun changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from convoship.db import migrate as migrate_module
from convoship.db.migrate import OWNER_ROLE, migrate, migration_files
from convoship_dev import services

MIGRATION = "0005_secret_allowed_hosts"
Conn = psycopg.Connection[dict[str, Any]]


def _tool(url: str, refs: list[str]) -> dict[str, Any]:
    return {"name": "t", "config": {"method": "GET", "url": url}, "secret_refs": refs}


@pytest.fixture(scope="module")
def upgraded_from_before(database: services.Database) -> Iterator[tuple[str, dict[str, Any]]]:
    """A database migrated up to the migration before 0005, seeded, then brought up to date."""
    dbname = f"convoship_upgrade_{uuid.uuid4().hex[:8]}"
    services.create_database(database.admin_url, dbname, exist_ok=False)
    url = services.Database(admin_url=database.admin_url, dbname=dbname).owner_admin_url
    try:
        earlier = [f for f in migration_files() if f[0] < MIGRATION]
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(migrate_module, "migration_files", lambda: earlier)
            migrate(url)
        with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
            seeded = _seed(conn)
        assert migrate(url) == [v for v, _ in migration_files() if v >= MIGRATION]
        yield url, seeded
    finally:
        services.drop_database(database.admin_url, dbname)


def _seed(conn: Conn) -> dict[str, Any]:
    ws = conn.execute("INSERT INTO workspaces (name) VALUES ('w') RETURNING id").fetchone()["id"]  # type: ignore[index]
    for name in ("CRM", "REGIONAL", "VISITOR", "OLD_ONLY"):
        conn.execute(
            "INSERT INTO workspace_secrets (workspace_id, name, value_ciphertext)"
            " VALUES (%s, %s, 'sealed')",
            (ws, name),
        )
    agent = conn.execute(
        "INSERT INTO ai_agents (workspace_id, slug, name, public_token)"
        " VALUES (%s, 'bot', 'Bot', %s) RETURNING id",
        (ws, uuid.uuid4().hex),
    ).fetchone()["id"]  # type: ignore[index]
    drafts = [
        ("crm", "https://user@CRM.Example.com.:8443/api/{{q}}?k={{secret:CRM}}", ["CRM"]),
        ("v6", "https://[2001:db8::7]:444/x", ["CRM"]),
        ("regional", "https://{{region}}.example.net/x", ["REGIONAL"]),  # a model moves it
    ]
    for name, url, refs in drafts:
        conn.execute(
            "INSERT INTO ai_agent_tools (workspace_id, agent_id, name, handler_kind, config,"
            " secret_refs) VALUES (%s, %s, %s, 'http', %s, %s)",
            (ws, agent, name, Jsonb({"method": "GET", "url": url}), refs),
        )
    versions = [
        (1, [_tool("https://old.example.org/x", ["CRM", "OLD_ONLY"])]),  # no longer served
        (2, [_tool("https://live.example.org/x", ["CRM"])]),
    ]
    for version, tools in versions:
        conn.execute(
            "INSERT INTO ai_agent_versions (workspace_id, agent_id, version, config, guardrails,"
            " tools) VALUES (%s, %s, %s, '{}', '[]', %s)",
            (ws, agent, version, Jsonb(tools)),
        )
    return {"workspace": ws}


def _state(conn: Conn, ws: object) -> tuple[dict[str, list[str]], list[dict[str, Any]]]:
    hosts = {
        r["name"]: r["allowed_hosts"]
        for r in conn.execute(
            "SELECT name, allowed_hosts FROM workspace_secrets WHERE workspace_id = %s", (ws,)
        )
    }
    audits = conn.execute(
        "SELECT actor_type, actor_id, action, resource_id, before_state, after_state"
        " FROM audit_log WHERE workspace_id = %s ORDER BY resource_id",
        (ws,),
    ).fetchall()
    return hosts, audits


def test_existing_secrets_get_the_hosts_of_the_tools_using_them(
    upgraded_from_before: tuple[str, dict[str, Any]],
) -> None:
    url, seeded = upgraded_from_before
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        hosts, audits = _state(conn, seeded["workspace"])
        assert hosts == {
            "CRM": ["2001:db8::7", "crm.example.com", "live.example.org"],
            "REGIONAL": [],  # its only tool's host is a model argument: no host to allow
            "VISITOR": [],
            "OLD_ONLY": [],  # used only by a version the embed no longer serves
        }
        assert [(a["resource_id"], a["actor_type"]) for a in audits] == [
            ("CRM", "system"),
            ("OLD_ONLY", "system"),
            ("REGIONAL", "system"),
            ("VISITOR", "system"),
        ]
        crm = audits[0]
        assert crm["action"] == "secret.allowed_hosts_updated"
        assert crm["before_state"] == {"name": "CRM", "allowed_hosts": None}
        assert crm["after_state"] == {"name": "CRM", "allowed_hosts": hosts["CRM"]}
        forced = conn.execute(
            "SELECT relname, relforcerowsecurity FROM pg_class WHERE relname = ANY(%s)",
            (
                [
                    "workspace_secrets",
                    "ai_agents",
                    "ai_agent_tools",
                    "ai_agent_versions",
                    "audit_log",
                ],
            ),
        ).fetchall()
        assert len(forced) == 5 and all(r["relforcerowsecurity"] for r in forced)


def test_running_the_migration_again_changes_nothing(
    upgraded_from_before: tuple[str, dict[str, Any]],
) -> None:
    url, seeded = upgraded_from_before
    body = dict(migration_files())[MIGRATION]
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        before = _state(conn, seeded["workspace"])
        with conn.transaction():
            conn.execute(f"SET LOCAL ROLE {OWNER_ROLE}".encode())
            conn.execute(body.encode())
        assert _state(conn, seeded["workspace"]) == before
