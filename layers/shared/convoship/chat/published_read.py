"""What an embed turn reads, in one statement: the latest published version of the agent
behind a public token, its workspace's agent ops and LLM settings, and the tokens the agent
used today. `chat_turn_published` (SQL, migration 0010) runs as the caller, under its
row-level security, and its plan is cached for the session: planned once, not per turn."""

from __future__ import annotations

from convoship.core.errors import NotFound
from convoship.db.connection import Connection
from convoship.runtime.snapshot import AgentSnapshot, RunContext
from convoship.studio.agent_ops import agent_ops_of
from convoship.studio.llm_settings import llm_settings_of

_OPS = ("rpm_cap_per_agent", "eval_pass_threshold")
_LLM = ("provider", "model", "base_url", "api_key_ciphertext", "api_key_hint", "api_key_data_key")


def read_published_turn(conn: Connection, public_token: str) -> tuple[RunContext, int]:
    """The run context of the published agent and its tokens used today (UTC); NotFound
    when no published agent answers to the token."""
    row = conn.execute(
        "SELECT * FROM chat_turn_published(%(token)s::text)", {"token": public_token}
    ).fetchone()
    if row is None:
        raise NotFound("no published agent answers to this token")
    ops = {k: row[k] for k in _OPS} | {"updated_at": row["ops_updated_at"]}
    llm = {k: row[k] for k in _LLM} | {"updated_at": row["llm_updated_at"]}
    context = RunContext(
        agent_id=row["agent_id"],
        workspace_id=row["workspace_id"],
        slug=row["slug"],
        name=row["name"],
        version=row["version"],
        snapshot=AgentSnapshot.of(row["config"], row["guardrails"], row["tools"]),
        frozen_guardrails=row["guardrails"],
        frozen_tools=row["tools"],
        ops=agent_ops_of(ops if row["has_ops"] else None),
        llm=llm_settings_of(llm if row["has_llm"] else None),
    )
    return context, int(row["tokens_today"] or 0)
