"""Apply the SQL migrations in order, once each, under an advisory lock.

Runs with an administrative connection (a role that may create roles). Tables are created
as `convoship_owner` (NOLOGIN); requests connect as `convoship_app`, which owns nothing,
is not superuser and cannot bypass row-level security.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from typing import Any

import psycopg
from psycopg import sql

OWNER_ROLE = "convoship_owner"
APP_ROLE = "convoship_app"
PURGE_ROLE = "convoship_purge"
# The key custodian: `rotate-keys` and `workspace delete` (crypto-shredding), nothing else.
KEYS_ROLE = "convoship_keys"
# Public (embed) transactions SET LOCAL ROLE to it: the embed policies are its alone, so they
# neither widen nor slow what studio requests (as convoship_app) see.
EMBED_ROLE = "convoship_embed"
# The daily audit checkpoint: reads chain heads (and audit_log's seq/hash columns) of every
# workspace and inserts signed checkpoints; nothing else.
CHECKPOINT_ROLE = "convoship_checkpoint"
# The roles that log in, each with its own secret when deployed.
LOGIN_ROLES = (APP_ROLE, PURGE_ROLE, KEYS_ROLE, CHECKPOINT_ROLE)
_LOCK_KEY = 7_412_118_301  # pg_advisory_lock key shared by every migrator

_ROLES = f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{OWNER_ROLE}') THEN
        CREATE ROLE {OWNER_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
        CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{PURGE_ROLE}') THEN
        CREATE ROLE {PURGE_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{KEYS_ROLE}') THEN
        CREATE ROLE {KEYS_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{CHECKPOINT_ROLE}') THEN
        CREATE ROLE {CHECKPOINT_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{EMBED_ROLE}') THEN
        CREATE ROLE {EMBED_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    END IF;
END $$;
-- The app may become the embed role (SET ROLE) but does not inherit it: policies written
-- for the embed role do not apply to the app role's own queries.
ALTER ROLE {APP_ROLE} NOINHERIT;
GRANT {EMBED_ROLE} TO {APP_ROLE};
"""


def migration_files() -> list[tuple[str, str]]:
    folder = resources.files("convoship.db") / "migrations"
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".sql"))
    return [(name.removesuffix(".sql"), (folder / name).read_text()) for name in names]


def set_password(conn: psycopg.Connection[Any], role: str, password: str) -> None:
    """Give role this password, sent as a SCRAM-SHA-256 verifier made here: the plaintext
    never reaches the server, so no statement log or error report can hold it."""
    verifier = conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256")
    conn.execute(
        sql.SQL("ALTER ROLE {} PASSWORD {}").format(
            sql.Identifier(role), sql.Literal(verifier.decode())
        )
    )


def migrate(admin_url: str, *, passwords: Mapping[str, str] | None = None) -> list[str]:
    """Bring the database at `admin_url` up to date, and give each login role in passwords
    (role name -> password) its password; returns the versions applied now."""
    applied_now: list[str] = []
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(_ROLES)
            for role, password in (passwords or {}).items():
                if role not in LOGIN_ROLES:
                    raise ValueError(f"{role} is not a login role of this schema")
                if password:
                    set_password(conn, role, password)
            is_super = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            row = is_super.fetchone()
            if not (row and row[0]):
                conn.execute(sql.SQL("GRANT {} TO current_user").format(sql.Identifier(OWNER_ROLE)))
            dbname = conn.info.dbname
            conn.execute(
                sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                    sql.Identifier(dbname),
                    sql.SQL(", ").join(sql.Identifier(role) for role in LOGIN_ROLES),
                )
            )
            # No temporary tables for anyone but the database's owner: one outlives SET LOCAL
            # ROLE and its transaction on a pooled connection, and would be read ahead of
            # the real table of its name by whoever the connection serves next (the login
            # roles hold TEMPORARY only through PUBLIC). Only the owner of the database can
            # revoke it; anyone else gets a warning here.
            conn.execute(
                sql.SQL("REVOKE TEMPORARY ON DATABASE {} FROM PUBLIC").format(
                    sql.Identifier(dbname)
                )
            )
            conn.execute(
                sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(
                    sql.Identifier(OWNER_ROLE)
                )
            )
            with conn.transaction():
                conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(OWNER_ROLE)))
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
                )
            done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
            for version, body in migration_files():
                if version in done:
                    continue
                with conn.transaction():
                    conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(OWNER_ROLE)))
                    conn.execute(body.encode())
                    conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
                applied_now.append(version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied_now
