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
