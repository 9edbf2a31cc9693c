"""Re-sealing a workspace's values (secrets, the BYOK key) under one data key version, a
batch per transaction. Rows are locked while they are re-sealed, and a row already under
the target version is never selected again: rerunning after a kill seals nothing twice."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from convoship.core.errors import ConvoshipError, DecryptionFailed
from convoship.keys.session import Connection
from convoship.security.context import (
    EncryptionContext,
    WrappedDataKey,
    byok_context,
    secret_context,
)
from convoship.security.key_store import data_key_of, data_key_sql

_SECRETS = "workspace_secrets"
_LLM = "workspace_llm_settings"


@dataclass(frozen=True)
class Scope:
    """Which values a pass moves: all not under target, or only the pre-data-key formats."""

    target: WrappedDataKey
    legacy_only: bool = False

    def where(self, table: str) -> tuple[str, tuple[Any, ...]]:
        if self.legacy_only:
            return f"{table}.data_key_version IS NULL", ()
        return f"{table}.data_key_version IS DISTINCT FROM %s", (self.target.version,)


def _move(ciphertext: str, context: EncryptionContext, old: Any, target: WrappedDataKey) -> str:
    from convoship.security.crypto import decrypt_at_rest, encrypt_at_rest  # lazy: cryptography

    try:
        plaintext = decrypt_at_rest(ciphertext, context, data_key_of(old))
    except ConvoshipError as exc:
        raise DecryptionFailed(
            f"{context.purpose} of workspace {context.workspace_id} does not open"
            f" ({exc.detail}); nothing of it was changed"
        ) from exc
    return encrypt_at_rest(plaintext, context, target)


def reseal_secrets(conn: Connection, workspace_id: object, scope: Scope, limit: int) -> int:
    """Re-seal up to limit secrets of the workspace; how many were."""
    condition, params = scope.where(_SECRETS)
    rows = conn.execute(
        f"SELECT name, value_ciphertext, {data_key_sql(_SECRETS)} AS data_key FROM {_SECRETS}"
        f" WHERE workspace_id = %s AND {condition} ORDER BY name LIMIT %s FOR UPDATE OF {_SECRETS}",
        (workspace_id, *params, limit),
    ).fetchall()
    updates = [
        (
            _move(
                r["value_ciphertext"],
                secret_context(workspace_id, r["name"]),
                r["data_key"],
                scope.target,
            ),
            workspace_id,
            r["name"],
        )
        for r in rows
    ]
    if updates:
        with conn.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {_SECRETS} SET value_ciphertext = %s"
                " WHERE workspace_id = %s AND name = %s",
                updates,
            )
    return len(updates)


def reseal_byok_key(conn: Connection, workspace_id: object, scope: Scope) -> int:
    """Re-seal the workspace's BYOK api key if it is in scope; 1 when it was, else 0."""
    condition, params = scope.where(_LLM)
    row = conn.execute(
        f"SELECT api_key_ciphertext, {data_key_sql(_LLM)} AS data_key FROM {_LLM}"
        f" WHERE workspace_id = %s AND api_key_ciphertext IS NOT NULL AND {condition}"
        f" FOR UPDATE OF {_LLM}",
        (workspace_id, *params),
    ).fetchone()
    if row is None:
        return 0
    sealed = _move(
        row["api_key_ciphertext"], byok_context(workspace_id), row["data_key"], scope.target
    )
    conn.execute(
        f"UPDATE {_LLM} SET api_key_ciphertext = %s WHERE workspace_id = %s",
        (sealed, workspace_id),
    )
    return 1


def _count(conn: Connection, workspace_id: object, where: Any) -> int:
    secrets, params = where(_SECRETS)
    llm, _ = where(_LLM)
    row = conn.execute(
        f"SELECT (SELECT count(*) FROM {_SECRETS} WHERE workspace_id = %s AND {secrets})"
        f" + (SELECT count(*) FROM {_LLM} WHERE workspace_id = %s"
        f" AND api_key_ciphertext IS NOT NULL AND {llm}) AS n",
        (workspace_id, *params, workspace_id, *params),
    ).fetchone()
    assert row is not None
    return int(row["n"])


def values_left(conn: Connection, workspace_id: object, scope: Scope) -> int:
    """How many values of the workspace are still outside the scope's target."""
    return _count(conn, workspace_id, scope.where)


def legacy_values(conn: Connection, workspace_id: object) -> int:
    """How many values of the workspace are in a format from before data keys."""
    return _count(conn, workspace_id, lambda table: (f"{table}.data_key_version IS NULL", ()))
