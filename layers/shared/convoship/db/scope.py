"""The RLS scope of a transaction: one workspace, or one public agent token."""

from __future__ import annotations

from uuid import UUID

# Public (embed) transactions act as this role: the embed policies and grants are its own.
# set_config(..., true) is SET LOCAL ROLE by another name; the request path sends no SET
# statement at all, which RDS Proxy would answer by pinning the client's session.
EMBED_ROLE_SQL = "SELECT set_config('role', 'convoship_embed', true)"
# A short write that may be lost in a server crash (a turn's reservation, a rate count)
# commits without waiting for the WAL flush: SET LOCAL synchronous_commit by another name.
NO_FLUSH_WAIT_SQL = "SELECT set_config('synchronous_commit', 'off', true)"


def scope_of(workspace_id: UUID | str | None, public_token: str | None) -> tuple[str, str]:
    if (workspace_id is None) == (public_token is None):
        raise ValueError("an RLS transaction needs exactly one of workspace_id or public_token")
    if workspace_id is not None:
        return "app.workspace_id", str(workspace_id)
    return "app.ai_agent_public_token", str(public_token)


def is_public(scope: tuple[str, str]) -> bool:
    return scope[0] == "app.ai_agent_public_token"


def scope_sql(
    scope: tuple[str, str], timeout_ms: str, *, durable: bool = True
) -> tuple[str, tuple[str, str, str]]:
    """The one statement (and its values) that sets the scope, the statement timeout and,
    for a public token, the embed role, for the rest of the transaction only. Not durable:
    its commit does not wait for the WAL flush either (synchronous_commit off), for writes
    that may be lost with a server crash (a turn's reservation, a rate count)."""
    name, value = scope
    sql = "SELECT set_config(%s, %s, true), set_config('statement_timeout', %s, true)"
    if is_public(scope):
        sql += ", " + EMBED_ROLE_SQL.removeprefix("SELECT ")
    if not durable:
        sql += ", " + NO_FLUSH_WAIT_SQL.removeprefix("SELECT ")
    return sql, (name, value, timeout_ms)
