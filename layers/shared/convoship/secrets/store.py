"""Workspace secrets: names and timestamps are readable, values only ever as ciphertext.

A value is decrypted only to fill a `{{secret:NAME}}` at call time (secrets.vault.SecretVault).
Values are sealed with the workspace's newest data key (security/key_store.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg

from convoship.audit.record import Actor, record
from convoship.core.errors import Conflict, NotFound
from convoship.db.connection import Connection
from convoship.security.context import WrappedDataKey
from convoship.security.key_store import data_key_for_write, data_key_of, data_key_sql

_PUBLIC_COLUMNS = "name, created_at, updated_at, updated_by"


def list_secrets(conn: Connection, workspace_id: object) -> list[dict[str, Any]]:
    return conn.execute(
        f"SELECT {_PUBLIC_COLUMNS} FROM workspace_secrets WHERE workspace_id = %s ORDER BY name",
        (workspace_id,),
    ).fetchall()


def put_secret(
    conn: Connection, actor: Actor, name: str, value: str
) -> tuple[dict[str, Any], bool]:
    """Create or replace a secret; returns (public row, created)."""
    from convoship.security.crypto import encrypt_at_rest, secret_context  # lazy: ~12 ms of imports

    data_key = data_key_for_write(conn, actor.workspace_id)
    ciphertext = encrypt_at_rest(value, secret_context(actor.workspace_id, name), data_key)
    try:
        row = conn.execute(
            f"""
            INSERT INTO workspace_secrets (workspace_id, name, value_ciphertext, updated_by)
            VALUES (%s, %s, %s, %s)
            ON CONFLICT (workspace_id, name) DO UPDATE
               SET value_ciphertext = EXCLUDED.value_ciphertext,
                   updated_at = now(), updated_by = EXCLUDED.updated_by
            RETURNING {_PUBLIC_COLUMNS}, (xmax = 0) AS created
            """,
            (actor.workspace_id, name, ciphertext, actor.actor_id),
        ).fetchone()
    except psycopg.errors.ForeignKeyViolation:
        raise NotFound("workspace not found") from None
    assert row is not None
    created = bool(row.pop("created"))
    record(
        conn,
        actor,
        action="secret.created" if created else "secret.replaced",
        resource_type="secret",
        resource_id=name,
        after={"name": name},
    )
    return row, created


def delete_secret(conn: Connection, actor: Actor, name: str) -> None:
    """Delete a secret no tool or AUTH guardrail references. Deleting first takes the row
    lock, so a reference saved concurrently either commits first (and is seen here) or
    finds the secret gone."""
    deleted = conn.execute(
        "DELETE FROM workspace_secrets WHERE workspace_id = %s AND name = %s RETURNING name",
        (actor.workspace_id, name),
    ).fetchone()
    if deleted is None:
        raise NotFound(f"no secret named {name}")
    users = conn.execute(
        """
        SELECT a.slug, 'tool' AS kind, t.name FROM ai_agent_tools t
          JOIN ai_agents a ON a.id = t.agent_id
         WHERE t.workspace_id = %(ws)s AND %(name)s = ANY(t.secret_refs)
        UNION ALL
        SELECT a.slug, 'guardrail', g.kind FROM ai_agent_guardrails g
          JOIN ai_agents a ON a.id = g.agent_id
         WHERE g.workspace_id = %(ws)s AND g.kind = 'AUTH'
           AND g.config->>'visitor_token_secret' = '{{secret:' || %(name)s || '}}'
         ORDER BY 1, 2, 3
        """,
        {"ws": actor.workspace_id, "name": name},
    ).fetchall()
    if users:
        raise Conflict(
            f"secret {name} is still used by {len(users)} tool(s) or guardrail(s)",
            used_by=[{"agent": u["slug"], u["kind"]: u["name"]} for u in users],
        )
    record(
        conn,
        actor,
        action="secret.deleted",
        resource_type="secret",
        resource_id=name,
        before={"name": name},
    )


def lock_existing_names(conn: Connection, workspace_id: object, names: Iterable[str]) -> set[str]:
    """Which of names exist, share-locked until commit so they cannot vanish meanwhile."""
    wanted = sorted(set(names))
    if not wanted:
        return set()
    rows = conn.execute(
        "SELECT name FROM workspace_secrets WHERE workspace_id = %s AND name = ANY(%s) FOR SHARE",
        (workspace_id, wanted),
    ).fetchall()
    return {r["name"] for r in rows}


def ciphertexts(
    conn: Connection, workspace_id: object, names: Iterable[str]
) -> dict[str, tuple[str, WrappedDataKey | None]]:
    """The stored ciphertexts of names, each with the wrapped data key it names (missing
    names are absent), in one query; secrets.vault.SecretVault decrypts a value only when a
    call needs it."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    rows = conn.execute(
        "SELECT name, value_ciphertext,"
        f" {data_key_sql('workspace_secrets')} AS data_key FROM workspace_secrets"
        " WHERE workspace_id = %s AND name = ANY(%s)",
        (workspace_id, wanted),
    ).fetchall()
    return {r["name"]: (r["value_ciphertext"], data_key_of(r["data_key"])) for r in rows}
