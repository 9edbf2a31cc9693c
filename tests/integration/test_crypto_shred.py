"""Crypto-shredding under a Fernet and a KMS master: a deleted workspace's rows and data
keys are gone, copies of its ciphertexts open with no key the deployment holds, and the
deletion is recorded outside the workspace."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from convoship.core.errors import ConfigurationError, DecryptionFailed, NotFound
from convoship.core.settings import get_settings
from convoship.keys.shred import shred_workspace
from convoship.security.crypto import (
    WrappedDataKey,
    byok_context,
    decrypt_at_rest,
    secret_context,
)
from convoship.security.key_store import data_key_of
from tests.support.agents import Conn, Token, create_agent, table_counts
from tests.support.api_client import ApiClient
from tests.support.keys import Master, fill_workspace, master_fixture, opened, stored
from tests.support.seed import WORKSPACE_TABLES

_ = master_fixture


def rows_of(owner_sql: Conn, ws: object) -> dict[str, int]:
    counts = {}
    for table in WORKSPACE_TABLES:
        column = "id" if table == "workspaces" else "workspace_id"
        row = owner_sql.execute(
            f"SELECT count(*) AS n FROM {table} WHERE {column} = %s".encode(), (ws,)
        ).fetchone()
        assert row is not None
        counts[table] = int(row["n"])
    return counts


def test_deleted_workspace_ciphertexts_open_with_no_key_left(
    master: Master,
    api: ApiClient,
    token: Token,
    make_workspace: Callable[..., uuid.UUID],
    owner_sql: Conn,
) -> None:
    gone, kept = make_workspace(), make_workspace()
    fill_workspace(api, token(gone, "admin"), {"API_KEY": "sk-gone-1", "DB": "pw"}, "sk-byok-gone")
    create_agent(api, token(gone, "editor"))
    fill_workspace(api, token(kept, "admin"), {"API_KEY": "sk-kept-1"}, None)
    copies = stored(owner_sql, gone)  # a leaked dump: ciphertexts and wrapped keys
    assert opened(owner_sql, gone)["API_KEY"] == "sk-gone-1"
    kept_before = stored(owner_sql, kept)
    before = table_counts(owner_sql)

    result = shred_workspace(get_settings(), gone, actor_id="operator:test")

    assert result == {
        "workspace_id": str(gone),
        "data_keys": 1,
        "secrets": 2,
        "byok_keys": 1,
        "legacy_values": 0,
    }
    assert set(rows_of(owner_sql, gone).values()) == {0}
    assert table_counts(owner_sql)["system_audit_log"] == before["system_audit_log"] + 1
    assert stored(owner_sql, kept) == kept_before
    assert opened(owner_sql, kept) == {"API_KEY": "sk-kept-1"}
    remaining = owner_sql.execute(
        "SELECT workspace_id, version, wrapped_key, master_key_id FROM workspace_data_keys"
    ).fetchall()
    for name, (ciphertext, _) in copies.items():
        context = byok_context(gone) if name == "byok" else secret_context(gone, name)
        with pytest.raises(DecryptionFailed):  # no key row names it any more
            decrypt_at_rest(ciphertext, context)
        for row in remaining:  # and no other workspace's key opens it, in any guise
            disguised = WrappedDataKey(str(gone), 1, row["wrapped_key"], row["master_key_id"])
            with pytest.raises((DecryptionFailed, ConfigurationError)):
                decrypt_at_rest(ciphertext, context, disguised)
            with pytest.raises(DecryptionFailed):
                decrypt_at_rest(ciphertext, context, data_key_of(row))
    audit = owner_sql.execute(
        "SELECT actor_type, actor_id, action, details FROM system_audit_log WHERE resource_id = %s",
        (str(gone),),
    ).fetchone()
    assert audit is not None and audit["actor_id"] == "operator:test"
    assert audit["details"]["data_keys"] == 1
    with pytest.raises(NotFound):
        shred_workspace(get_settings(), gone, actor_id="operator:test")


def test_values_from_before_data_keys_are_reported(
    make_workspace: Callable[..., uuid.UUID], owner_sql: Conn
) -> None:
    ws = make_workspace()
    owner_sql.execute(
        "INSERT INTO workspace_secrets (workspace_id, name, value_ciphertext)"
        " VALUES (%s, 'OLD', 'gAAAA-a-fernet-token')",
        (ws,),
    )
    result: dict[str, Any] = shred_workspace(get_settings(), ws, actor_id="operator:test")
    assert result["legacy_values"] == 1 and result["data_keys"] == 0
