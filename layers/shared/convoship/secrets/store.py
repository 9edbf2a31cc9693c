"""Workspace secrets: names, allowed hosts and timestamps are readable, values only ever
as ciphertext.

A value is decrypted only to fill a `{{secret:NAME}}` at call time (vault.SecretVault), and
sent only to a host its `allowed_hosts` name (an admin's list; empty: no tool may use it,
only an AUTH guardrail's visitor tokens). Values are sealed with the workspace's newest
data key (security/key_store.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import Cursor

from convoship.audit.record import Actor, record
from convoship.core.errors import Conflict, NotFound
from convoship.db.connection import Connection
from convoship.secrets.usage import queue_tools_using, tools_losing_host
from convoship.security.context import WrappedDataKey
from convoship.security.key_store import data_key_for_write, data_key_of, data_key_sql

_PUBLIC_COLUMNS = "name, allowed_hosts, created_at, updated_at, updated_by"


@dataclass(frozen=True)
class SealedSecret:
    ciphertext: str
    allowed_hosts: list[str]
    data_key: WrappedDataKey | None  # the wrapped key the ciphertext names (None: old formats)


def list_secrets(conn: Connection, workspace_id: object) -> list[dict[str, Any]]:
    return conn.execute(
        f"SELECT {_PUBLIC_COLUMNS} FROM workspace_secrets WHERE workspace_id = %s ORDER BY name",
        (workspace_id,),
    ).fetchall()


def _queue_current_hosts(conn: Connection, workspace_id: object, name: str) -> Cursor[Any]:
    """The secret's allowed hosts, its row locked until commit (queued)."""
    return conn.execute(
        "SELECT allowed_hosts FROM workspace_secrets WHERE workspace_id = %s AND name = %s"
        " FOR UPDATE",
        (workspace_id, name),
    )


def _refuse_narrowing(
    name: str, tools: list[dict[str, Any]], before: list[str], after: list[str]
) -> None:
    losing = tools_losing_host(tools, before, after)
    if losing:
        raise Conflict(
            f"secret {name} is used by {len(losing)} tool(s) on a host the new allowed_hosts"
            " leave out; change those tools first",
            used_by=losing,
        )


def put_secret(
    conn: Connection,
    actor: Actor,
    name: str,
    value: str,
    allowed_hosts: list[str] | None = None,
) -> tuple[dict[str, Any], bool]:
    """Create or replace a secret (allowed_hosts None: a new secret gets none, a replaced
    one keeps its own); returns (public row, created). New hosts are checked against the
    tools using the secret in the same round trip as the write (a 409 rolls it back)."""
    from convoship.security.crypto import encrypt_at_rest, secret_context  # lazy: ~12 ms of imports

    data_key = data_key_for_write(conn, actor.workspace_id)
    ciphertext = encrypt_at_rest(value, secret_context(actor.workspace_id, name), data_key)
    current = tools = None
    if allowed_hosts is not None:
        current = _queue_current_hosts(conn, actor.workspace_id, name)
        tools = queue_tools_using(conn, actor.workspace_id, name)
    try:
        written = conn.execute(
            f"""
            INSERT INTO workspace_secrets
                (workspace_id, name, value_ciphertext, allowed_hosts, updated_by)
            VALUES (%(ws)s, %(name)s, %(sealed)s, COALESCE(%(hosts)s::text[], '{{}}'), %(by)s)
            ON CONFLICT (workspace_id, name) DO UPDATE
               SET value_ciphertext = EXCLUDED.value_ciphertext,
                   allowed_hosts = COALESCE(%(hosts)s::text[], workspace_secrets.allowed_hosts),
                   updated_at = now(), updated_by = EXCLUDED.updated_by
            RETURNING {_PUBLIC_COLUMNS}, (xmax = 0) AS created
            """,
            {
                "ws": actor.workspace_id,
                "name": name,
                "sealed": ciphertext,
                "hosts": allowed_hosts,
                "by": actor.actor_id,
            },
        )
        previous = current.fetchone() if current is not None else None
        row = written.fetchone()
    except psycopg.errors.ForeignKeyViolation:
        raise NotFound("workspace not found") from None
    before = None
    if previous is not None and tools is not None and allowed_hosts is not None:
        _refuse_narrowing(name, tools.fetchall(), previous["allowed_hosts"], allowed_hosts)
        before = {"name": name, "allowed_hosts": previous["allowed_hosts"]}
    assert row is not None
    created = bool(row.pop("created"))
    record(
        conn,
        actor,
        action="secret.created" if created else "secret.replaced",
        resource_type="secret",
        resource_id=name,
        before=before,
        after={"name": name, "allowed_hosts": row["allowed_hosts"]},
    )
    return row, created


def set_allowed_hosts(
    conn: Connection, actor: Actor, name: str, allowed_hosts: list[str]
) -> dict[str, Any]:
    """Change where a secret may go, keeping its value; 409 (used_by) when a tool that uses
    it targets a host the current list allows and the new one does not. The lock, the tools
    and the update travel in one round trip (a 409 or 404 rolls the update back)."""
    current = _queue_current_hosts(conn, actor.workspace_id, name)
    tools = queue_tools_using(conn, actor.workspace_id, name)
    updated = conn.execute(
        f"UPDATE workspace_secrets SET allowed_hosts = %s, updated_at = now(), updated_by = %s"
        f" WHERE workspace_id = %s AND name = %s RETURNING {_PUBLIC_COLUMNS}",
        (allowed_hosts, actor.actor_id, actor.workspace_id, name),
    )
    previous = current.fetchone()
    if previous is None:
        raise NotFound(f"no secret named {name}")
    _refuse_narrowing(name, tools.fetchall(), previous["allowed_hosts"], allowed_hosts)
    row = updated.fetchone()
    assert row is not None
    record(
        conn,
        actor,
        action="secret.allowed_hosts_updated",
        resource_type="secret",
        resource_id=name,
        before={"name": name, "allowed_hosts": previous["allowed_hosts"]},
        after={"name": name, "allowed_hosts": allowed_hosts},
    )
    return row


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


def lock_allowed_hosts(
    conn: Connection, workspace_id: object, names: Iterable[str]
) -> dict[str, list[str]]:
    """The allowed hosts of those of names that exist, share-locked until commit so they
    can neither vanish nor narrow meanwhile."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    rows = conn.execute(
        "SELECT name, allowed_hosts FROM workspace_secrets"
        " WHERE workspace_id = %s AND name = ANY(%s) FOR SHARE",
        (workspace_id, wanted),
    ).fetchall()
    return {r["name"]: list(r["allowed_hosts"]) for r in rows}


def lock_existing_names(conn: Connection, workspace_id: object, names: Iterable[str]) -> set[str]:
    """Which of names exist, share-locked until commit so they cannot vanish meanwhile."""
    return set(lock_allowed_hosts(conn, workspace_id, names))


def sealed_secrets(
    conn: Connection, workspace_id: object, names: Iterable[str]
) -> dict[str, SealedSecret]:
    """The stored ciphertexts of names, each with its allowed hosts and the wrapped data key
    it names (missing names are absent), in one query; vault.SecretVault decrypts a value
    only when a call needs it."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    rows = conn.execute(
        "SELECT name, value_ciphertext, allowed_hosts,"
        f" {data_key_sql('workspace_secrets')} AS data_key FROM workspace_secrets"
        " WHERE workspace_id = %s AND name = ANY(%s)",
        (workspace_id, wanted),
    ).fetchall()
    return {
        r["name"]: SealedSecret(
            r["value_ciphertext"], list(r["allowed_hosts"]), data_key_of(r["data_key"])
        )
        for r in rows
    }
