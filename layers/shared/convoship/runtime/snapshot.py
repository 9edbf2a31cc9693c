"""Everything one agent run needs, read in one round trip: the draft or the latest
published version, and the workspace's ops and LLM settings. Secrets are not read here: the
run's SecretVault reads the ones it references only if a call needs them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from uuid import UUID

from convoship.db.connection import Connection
from convoship.llm.types import Sampling, ToolDef
from convoship.secrets.refs import reference_name
from convoship.studio.agent_ops import AGENT_OPS_COLUMNS, AgentOps, agent_ops_of
from convoship.studio.llm_settings import (
    LLM_RUN_COLUMNS,
    LlmSettings,
    llm_settings_of,
)
from convoship.studio.owned import AGENT_ID, agent_not_found

# How tools and guardrails are frozen into a version (and read for a draft run).
SNAPSHOT_TOOL = (
    "jsonb_build_object('name', t.name, 'description', t.description, 'handler_kind',"
    " t.handler_kind, 'config', t.config, 'input_schema', t.input_schema, 'secret_refs',"
    " to_jsonb(t.secret_refs))"
)
SNAPSHOT_GUARDRAIL = "jsonb_build_object('kind', g.kind, 'config', g.config, 'enabled', g.enabled)"
_DRAFT_TOOLS = (
    f"(SELECT COALESCE(jsonb_agg({SNAPSHOT_TOOL} ORDER BY t.name), '[]')"
    " FROM ai_agent_tools t WHERE t.agent_id = a.id)"
)
_DRAFT_GUARDRAILS = (
    f"(SELECT COALESCE(jsonb_agg({SNAPSHOT_GUARDRAIL} ORDER BY g.kind), '[]')"
    " FROM ai_agent_guardrails g WHERE g.agent_id = a.id)"
)


@dataclass(frozen=True)
class AgentSnapshot:
    """What runs: a draft (agent row, guardrails, tools) or a published version."""

    config: dict[str, Any]
    guardrails: dict[str, dict[str, Any]]  # enabled guardrails only: kind -> config
    tools: list[dict[str, Any]]

    @classmethod
    def of(
        cls, config: dict[str, Any], guardrails: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> AgentSnapshot:
        enabled = {g["kind"]: g["config"] for g in guardrails if g.get("enabled", True)}
        return cls(config=config, guardrails=enabled, tools=tools)

    @property
    def sampling(self) -> Sampling:
        return Sampling(
            temperature=float(self.config.get("temperature", 0.7)),
            max_output_tokens=int(self.config.get("max_output_tokens", 1024)),
        )

    @property
    def max_tool_calls(self) -> int:
        limit = self.guardrails.get("LIMIT")
        return int(limit["max_tool_calls_per_turn"]) if limit else 5

    @cached_property
    def fixed_input_bytes(self) -> int:
        """The UTF-8 bytes the model reads of this agent on every call: the system prompt and
        the tool definitions offered (name, description, input schema, as JSON). The fixed
        part of a turn's token estimate (chat/reservation.py), computed once per snapshot: a
        published version's snapshot serves every turn of its container (chat/read_ahead.py).
        """
        size = len((self.config.get("system_prompt") or "").encode())
        if self.tools:
            offered = [(t["name"], t.get("description"), t.get("input_schema")) for t in self.tools]
            size += len(json.dumps(offered).encode())
        return size

    def tool_defs(self) -> list[ToolDef]:
        return [
            ToolDef(t["name"], t.get("description") or "", t.get("input_schema") or {})
            for t in self.tools
        ]


@dataclass(frozen=True)
class RunContext:
    agent_id: UUID
    workspace_id: UUID
    slug: str
    name: str
    version: int | None  # None: the draft
    snapshot: AgentSnapshot
    frozen_guardrails: list[dict[str, Any]]  # as stored in a version
    frozen_tools: list[dict[str, Any]]
    ops: AgentOps
    llm: LlmSettings

    @property
    def secret_names(self) -> list[str]:
        """What the run may need from the vault: tool references and the AUTH secret."""
        names = {n for tool in self.frozen_tools for n in tool.get("secret_refs") or []}
        auth = self.snapshot.guardrails.get("AUTH") or {}
        visitor = reference_name(auth.get("visitor_token_secret"))
        return sorted(names | ({visitor} if visitor else set()))


def read_draft(conn: Connection, workspace_id: UUID, slug: str) -> RunContext:
    """The draft of an agent with its workspace settings."""
    return _read_draft(conn, workspace_id, slug, with_evals=False)[0]


def read_draft_and_evals(
    conn: Connection, workspace_id: UUID, slug: str
) -> tuple[RunContext, list[dict[str, Any]]]:
    """The draft, its workspace settings and its evals, in the same round trip."""
    return _read_draft(conn, workspace_id, slug, with_evals=True)


def _read_draft(
    conn: Connection, workspace_id: UUID, slug: str, *, with_evals: bool
) -> tuple[RunContext, list[dict[str, Any]]]:
    scope = {"ws": workspace_id, "slug": slug}
    draft = conn.execute(
        "SELECT a.id, a.slug, a.name, a.config,"
        f" {_DRAFT_GUARDRAILS} AS guardrails, {_DRAFT_TOOLS} AS tools"
        " FROM ai_agents a WHERE a.workspace_id = %(ws)s AND a.slug = %(slug)s",
        scope,
    )
    evals = None
    if with_evals:
        evals = conn.execute(
            "SELECT id, name, input, assertions FROM ai_agent_evals"
            f" WHERE agent_id = {AGENT_ID} ORDER BY created_at, id",
            scope,
        )
    ops = conn.execute(
        f"SELECT {AGENT_OPS_COLUMNS} FROM workspace_agent_ops WHERE workspace_id = %(ws)s", scope
    )
    llm = conn.execute(
        f"SELECT {LLM_RUN_COLUMNS} FROM workspace_llm_settings WHERE workspace_id = %(ws)s",
        scope,
    )
    row = draft.fetchone()
    if row is None:
        raise agent_not_found(slug)
    context = RunContext(
        agent_id=row["id"],
        workspace_id=workspace_id,
        slug=row["slug"],
        name=row["name"],
        version=None,
        snapshot=AgentSnapshot.of(row["config"], row["guardrails"], row["tools"]),
        frozen_guardrails=row["guardrails"],
        frozen_tools=row["tools"],
        ops=agent_ops_of(ops.fetchone()),
        llm=llm_settings_of(llm.fetchone()),
    )
    return context, evals.fetchall() if evals is not None else []
