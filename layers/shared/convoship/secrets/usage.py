"""Which tools use a secret, and which of them a change of its allowed hosts would strand."""

from __future__ import annotations

from typing import Any

from convoship.db.connection import Connection
from convoship.secrets.hosts import HostNotAllowed, fixed_url_host, host_allowed


def tools_losing_host(
    conn: Connection, workspace_id: object, name: str, before: list[str], after: list[str]
) -> list[dict[str, Any]]:
    """The agents' tools that reference the secret and target a host before allows and
    after does not, as `used_by` items. (A tool whose host no list can allow, saved before
    secrets were bound to hosts, is refused at call time whatever the list says.)"""
    rows = conn.execute(
        "SELECT a.slug, t.name, t.config->>'url' AS url FROM ai_agent_tools t"
        " JOIN ai_agents a ON a.id = t.agent_id"
        " WHERE t.workspace_id = %s AND %s = ANY(t.secret_refs) ORDER BY a.slug, t.name",
        (workspace_id, name),
    ).fetchall()
    losing = []
    for row in rows:
        try:
            host = fixed_url_host(row["url"] or "")
        except HostNotAllowed:
            continue
        if host_allowed(host, before) and not host_allowed(host, after):
            losing.append({"agent": row["slug"], "tool": row["name"], "host": host})
    return losing
