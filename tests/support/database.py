"""Assertions over the whole database, read as its owner."""

from __future__ import annotations

from tests.support.agents import Conn


def assert_nowhere_in_database(owner_sql: Conn, needle: str) -> None:
    """The plaintext appears in no column of any table (rows rendered as text)."""
    tables = [
        r["tablename"]
        for r in owner_sql.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    ]
    for table in tables:
        row = owner_sql.execute(
            f"SELECT count(*) AS n FROM {table} t WHERE t::text LIKE %s".encode(), (f"%{needle}%",)
        ).fetchone()
        assert row is not None and row["n"] == 0, f"{needle!r} found in {table}"
