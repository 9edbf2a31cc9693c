"""Seed one row in every workspace table, as the administrator (bypassing RLS)."""

from __future__ import annotations

import secrets
from typing import Any

import psycopg

from convoship.db.scope import EMBED_ROLE_SQL

WORKSPACE_TABLES = (
    "workspaces",
    "workspace_agent_ops",
    "workspace_llm_settings",
    "workspace_secrets",
    "workspace_data_keys",
    "audit_log",
    "ai_agents",
    "ai_agent_versions",
    "ai_agent_guardrails",
    "ai_agent_tools",
    "ai_agent_evals",
    "ai_agent_conversations",
    "ai_agent_messages",
    "ai_agent_usage_daily",
    "ai_agent_turn_reservations",
    "ai_agent_rate_counters",
    "ai_agent_drafts",
    "ai_agent_audit_events",
    "audit_chain_heads",  # made by the audit_log trigger below
    "audit_checkpoints",
)


def seed_graph(
    conn: psycopg.Connection[dict[str, Any]], ws: object, *, stale_draft: bool = False
) -> dict[str, Any]:
    def one(query: str, params: tuple[Any, ...]) -> Any:
        row = conn.execute(query.encode(), params).fetchone()
        assert row is not None
        return row.get("id", row)

    token = secrets.token_urlsafe(24)
    ids: dict[str, Any] = {"workspace": ws, "public_token": token}
    conn.execute(
        "INSERT INTO workspace_agent_ops (workspace_id, rpm_cap_per_agent) VALUES (%s, 5)", (ws,)
    )
    conn.execute(
        "INSERT INTO workspace_llm_settings (workspace_id, provider, model)"
        " VALUES (%s, 'openai', 'gpt-test')",
        (ws,),
    )
    conn.execute(
        "INSERT INTO workspace_secrets (workspace_id, name, value_ciphertext)"
        " VALUES (%s, 'API_KEY', 'ciphertext')",
        (ws,),
    )
    conn.execute(
        "INSERT INTO workspace_data_keys (workspace_id, version, wrapped_key, master_key_id)"
        " VALUES (%s, 1, 'wrapped', 'fernet:0000')",
        (ws,),
    )
    ids["agent"] = agent = one(
        "INSERT INTO ai_agents (workspace_id, slug, name, public_token)"
        " VALUES (%s, 'bot', 'Bot', %s) RETURNING id",
        (ws, token),
    )
    one(
        "INSERT INTO ai_agent_versions (workspace_id, agent_id, version, config, guardrails, tools)"
        " VALUES (%s, %s, 1, '{}', '[]', '[]') RETURNING id",
        (ws, agent),
    )
    one(
        "INSERT INTO ai_agent_guardrails (workspace_id, agent_id, kind, config)"
        " VALUES (%s, %s, 'LIMIT', '{}') RETURNING id",
        (ws, agent),
    )
    one(
        "INSERT INTO ai_agent_tools (workspace_id, agent_id, name, handler_kind, config,"
        " secret_refs) VALUES (%s, %s, 'lookup', 'http', '{}', '{API_KEY}') RETURNING id",
        (ws, agent),
    )
    one(
        "INSERT INTO ai_agent_evals (workspace_id, agent_id, name, input, assertions)"
        " VALUES (%s, %s, 'e', 'hi', '[]') RETURNING id",
        (ws, agent),
    )
    ids["conversation"] = conv = one(
        "INSERT INTO ai_agent_conversations (workspace_id, agent_id, channel)"
        " VALUES (%s, %s, 'embed') RETURNING id",
        (ws, agent),
    )
    ids["playground_conversation"] = one(
        "INSERT INTO ai_agent_conversations (workspace_id, agent_id, channel)"
        " VALUES (%s, %s, 'playground') RETURNING id",
        (ws, agent),
    )
    one(
        "INSERT INTO ai_agent_messages (workspace_id, conversation_id, seq, role, content)"
        " VALUES (%s, %s, 1, 'user', 'hello') RETURNING id",
        (ws, conv),
    )
    conn.execute(
        "INSERT INTO ai_agent_usage_daily (workspace_id, agent_id, day, tokens)"
        " VALUES (%s, %s, current_date, 10)",
        (ws, agent),
    )
    conn.execute(
        "INSERT INTO ai_agent_turn_reservations (id, workspace_id, agent_id, conversation_id,"
        " channel, day, tokens, expires_at) VALUES (gen_random_uuid(), %s, %s, %s, 'embed',"
        " current_date, 100, now() + interval '1 hour')",
        (ws, agent, conv),
    )
    conn.execute(
        "INSERT INTO ai_agent_rate_counters (workspace_id, agent_id, channel, window_start,"
        " counted) VALUES (%s, %s, 'embed', 1, 1)",
        (ws, agent),
    )
    age = "now() - interval '90 days'" if stale_draft else "now()"
    ids["draft"] = one(
        f"INSERT INTO ai_agent_drafts (workspace_id, data, updated_at) VALUES (%s, '{{}}', {age})"
        " RETURNING id",
        (ws,),
    )
    one(
        "INSERT INTO ai_agent_audit_events (workspace_id, agent_id, agent_slug, actor_type,"
        " actor_id, action, resource_type) VALUES (%s, %s, 'bot', 'user', 'u', 'agent.created',"
        " 'agent') RETURNING id",
        (ws, agent),
    )
    one(
        "INSERT INTO audit_log (workspace_id, actor_type, actor_id, action, resource_type)"
        " VALUES (%s, 'user', 'u', 'agent.created', 'agent') RETURNING id",
        (ws,),
    )
    one(
        "INSERT INTO audit_checkpoints (workspace_id, seq, hash, signed_at, algorithm, key_id,"
        " signature) SELECT workspace_id, seq, hash, now(), 'HMAC_SHA_256_DEV', 'k', 's'"
        " FROM audit_chain_heads WHERE workspace_id = %s RETURNING id",
        (ws,),
    )
    return ids


def act_as_embed(conn: psycopg.Connection[dict[str, Any]], public_token: str) -> None:
    """What rls_transaction(public_token=...) does at the start of its transaction."""
    conn.execute("SELECT set_config('app.ai_agent_public_token', %s, true)", (public_token,))
    conn.execute(EMBED_ROLE_SQL)
