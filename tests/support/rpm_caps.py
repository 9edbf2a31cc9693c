"""A workspace's RPM cap, written through a batch and read back as the owner: what the batch
tests write to see whether a batch committed."""

from __future__ import annotations

import uuid
from typing import Any

UPSERT_CAP = (
    "INSERT INTO workspace_agent_ops (workspace_id, rpm_cap_per_agent) VALUES (%(ws)s, %(cap)s)"
    " ON CONFLICT (workspace_id) DO UPDATE SET rpm_cap_per_agent = EXCLUDED.rpm_cap_per_agent"
)


def cap_of(owner_sql: Any, workspace: uuid.UUID) -> Any:
    """The cap as the owner sees it (None: no row)."""
    row = owner_sql.execute(
        "SELECT rpm_cap_per_agent FROM workspace_agent_ops WHERE workspace_id = %s", (workspace,)
    ).fetchone()
    return row["rpm_cap_per_agent"] if row else None
