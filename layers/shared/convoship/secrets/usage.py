"""Which tools use a secret, and which of them a change of its allowed hosts would strand."""

from __future__ import annotations

from typing import Any

from psycopg import Cursor

from convoship.db.connection import Connection
from convoship.secrets.hosts import HostNotAllowed, fixed_url_host, host_allowed


def queue_tools_using(conn: Connection, workspace_id: object, name: str) -> Cursor[Any]:
    """The agents' tools that reference the secret (queued: fetch with the caller's other
    queries, after its lock on the secret, so that it sees every tool saved before)."""
    return conn.execute(
        "SELECT a.slug, t.name, t.config->>'url' AS url FROM ai_agent_tools t"
        " JOIN ai_agents a ON a.id = t.agent_id"
        " WHERE t.workspace_id = %s AND %s = ANY(t.secret_refs) ORDER BY a.slug, t.name",
        (workspace_id, name),
    )


def tools_losing_host(
    tools: list[dict[str, Any]], before: list[str], after: list[str]
) -> list[dict[str, Any]]:
    """Those tools that target a host before allows and after does not, as `used_by` items.
    (A tool whose host no list can allow, saved before secrets were bound to hosts, is
    refused at call time whatever the list says.)"""
    losing = []
    for tool in tools:
        try:
            host = fixed_url_host(tool["url"] or "")
        except HostNotAllowed:
            continue
        if host_allowed(host, before) and not host_allowed(host, after):
            losing.append({"agent": tool["slug"], "tool": tool["name"], "host": host})
    return losing
