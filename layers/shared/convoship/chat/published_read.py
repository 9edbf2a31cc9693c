"""What an embed turn reads, in one statement: the latest published version of the agent
behind a public token, its workspace's agent ops and LLM settings, and the tokens the agent
used today. `chat_turn_published` (SQL, migrations 0010 and 0015) runs as the caller, under
its row-level security, and its plan is cached for the session: planned once, not per turn.
A published version never changes: a turn that holds the latest one already (the context
this container kept for the token, chat/read_ahead.py) is not sent its config, guardrails
and tools again, and keeps using what it holds."""

from __future__ import annotations

from convoship.core.errors import NotFound
from convoship.db.connection import Connection
from convoship.runtime.snapshot import AgentSnapshot, RunContext
from convoship.studio.agent_ops import agent_ops_of
from convoship.studio.llm_settings import llm_settings_of

_OPS = ("rpm_cap_per_agent", "eval_pass_threshold")
_LLM = ("provider", "model", "base_url", "api_key_ciphertext", "api_key_hint", "api_key_data_key")


def read_published_turn(
    conn: Connection, public_token: str, held: RunContext | None = None
) -> tuple[RunContext, int]:
    """The run context of the published agent and its tokens used today (UTC); NotFound
    when no published agent answers to the token. `held`: a context of the token read
    before, whose version documents are reused if it is still the latest."""
    row = conn.execute(
        "SELECT * FROM chat_turn_published(%(token)s::text, %(agent)s, %(version)s::integer)",
        {
            "token": public_token,
            "agent": held.agent_id if held else None,
            "version": held.version if held else None,
        },
    ).fetchone()
    if row is None:
        raise NotFound("no published agent answers to this token")
    ops = {k: row[k] for k in _OPS} | {"updated_at": row["ops_updated_at"]}
    llm = {k: row[k] for k in _LLM} | {"updated_at": row["llm_updated_at"]}
    if row["known"] and held is not None:  # still `held`'s agent and version
        snapshot, guardrails, tools = held.snapshot, held.frozen_guardrails, held.frozen_tools
    else:
        snapshot = AgentSnapshot.of(row["config"], row["guardrails"], row["tools"])
        guardrails, tools = row["guardrails"], row["tools"]
    context = RunContext(
        agent_id=row["agent_id"],
        workspace_id=row["workspace_id"],
        slug=row["slug"],
        name=row["name"],
        version=row["version"],
        snapshot=snapshot,
        frozen_guardrails=guardrails,
        frozen_tools=tools,
        ops=agent_ops_of(ops if row["has_ops"] else None),
        llm=llm_settings_of(llm if row["has_llm"] else None),
    )
    return context, int(row["tokens_today"] or 0)
