"""The scheduled purge of stale wizard drafts, across every workspace.

It connects as `convoship_purge`, a role whose row-level policies let it see and delete
only drafts older than the retention and insert only its own `drafts.purged` audit rows:
even a bug here cannot touch anything else. One transaction deletes the drafts and writes
one audit_log row per affected workspace (actor `system`), both or neither.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from convoship.core.errors import ConfigurationError, ServiceUnavailable
from convoship.core.settings import Settings


def purge_stale_drafts(settings: Settings, *, request_id: str | None = None) -> dict[str, Any]:
    """Delete drafts not updated for settings.draft_retention_days; {"purged": n}."""
    url = settings.purge_database_url
    if not url:
        raise ConfigurationError(
            "CONVOSHIP_PURGE_DATABASE_URL (or CONVOSHIP_PURGE_DATABASE_SECRET_ARN) is not set:"
            " the purge runs as the convoship_purge role"
        )
    days = settings.draft_retention_days
    try:
        with (
            psycopg.connect(
                url,
                connect_timeout=settings.db_connect_timeout_s,
                application_name="convoship-purge",
                prepare_threshold=None,
                row_factory=dict_row,
            ) as conn,
            conn.transaction(),
        ):
            conn.execute("SELECT set_config('app.draft_retention_days', %s, true)", (str(days),))
            deleted = conn.execute(
                "DELETE FROM ai_agent_drafts"
                " WHERE updated_at < now() - make_interval(days => %s) RETURNING workspace_id",
                (days,),
            ).fetchall()
            per_workspace = Counter(row["workspace_id"] for row in deleted)
            for workspace_id, count in sorted(per_workspace.items(), key=lambda i: str(i[0])):
                conn.execute(
                    "INSERT INTO audit_log (workspace_id, actor_type, actor_id, action,"
                    " resource_type, request_id, after_state)"
                    " VALUES (%s, 'system', 'system', 'drafts.purged', 'ai_agent_draft', %s, %s)",
                    (workspace_id, request_id, Jsonb({"purged": count, "retention_days": days})),
                )
    except psycopg.OperationalError as exc:
        raise ServiceUnavailable("the database is unavailable") from exc
    return {"purged": len(deleted), "workspaces": len(per_workspace), "retention_days": days}
