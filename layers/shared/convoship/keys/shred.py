"""Crypto-shredding: `convoship workspace delete ID`.

Deletes the workspace and, by cascade, every row it owns, its data keys included: copies of
its ciphertexts (a leaked dump, a log) name a key that no longer exists anywhere the
deployment looks. Values still in a format from before data keys are sealed with the master
key itself: their copies open until that master is retired, which the result and the
record say. One row in system_audit_log, outside the workspace, records it.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from convoship.core.errors import NotFound
from convoship.core.settings import Settings
from convoship.keys.reseal import legacy_values
from convoship.keys.session import keys_session
from convoship.security.key_store import EXCLUSIVE_LOCK_SQL, lock_params


def shred_workspace(
    settings: Settings, workspace_id: UUID | str, *, actor_id: str
) -> dict[str, Any]:
    """Delete the workspace and its data keys; what was destroyed (counts only)."""
    with keys_session(settings) as session, session.workspace(workspace_id) as conn:
        conn.execute(EXCLUSIVE_LOCK_SQL, lock_params(workspace_id))  # writes in flight end first
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM workspace_data_keys) AS data_keys,"
            " (SELECT count(*) FROM workspace_secrets) AS secrets,"
            " (SELECT count(*) FROM workspace_llm_settings"
            "   WHERE api_key_ciphertext IS NOT NULL) AS byok_keys"
        ).fetchone()
        assert counts is not None
        details = {**counts, "legacy_values": legacy_values(conn, workspace_id)}
        deleted = conn.execute(
            "DELETE FROM workspaces WHERE id = %s RETURNING id", (workspace_id,)
        ).fetchone()
        if deleted is None:
            raise NotFound(f"no workspace {workspace_id}")
        conn.execute(
            "INSERT INTO system_audit_log (actor_type, actor_id, action, resource_type,"
            " resource_id, details) VALUES ('operator', %s, 'workspace.shredded', 'workspace',"
            " %s, %s)",
            (actor_id, str(workspace_id), Jsonb(details)),
        )
    from convoship.security.data_keys import forget_workspace  # lazy: cryptography

    forget_workspace(workspace_id)
    return {"workspace_id": str(workspace_id), **details}
