"""Demo data behind the events/ files: workspace, agent `support-bot` and one of each
resource with the ids the events name, so `convoship invoke` and `make bench` exercise
real reads rather than 404s. Idempotent; written as the administrator."""

from __future__ import annotations

import psycopg
from psycopg.types.json import Jsonb

from convoship.studio.guardrail_configs import default_guardrails

DEMO_WORKSPACE_ID = "7e1d0000-0000-4000-8000-000000000001"
AGENT_ID = "5a1e0000-0000-4000-8000-0000000000a0"
GUARDRAIL_ID = "5a1e0000-0000-4000-8000-000000000001"  # the AUTH guardrail
TOOL_ID = "5a1e0000-0000-4000-8000-000000000002"
EVAL_ID = "5a1e0000-0000-4000-8000-000000000003"
CONVERSATION_ID = "5a1e0000-0000-4000-8000-000000000004"
DRAFT_ID = "5a1e0000-0000-4000-8000-000000000005"
CONFIG = {
    "system_prompt": "You help customers of Acme.",
    "greeting": "Hi! How can I help?",
    "model": None,
    "temperature": 0.7,
    "max_output_tokens": 1024,
}
TOOL_CONFIG = {
    "method": "GET",
    "url": "https://api.example.com/orders/{{order_id}}",
    "headers": {"Accept": "application/json"},
    "body": None,
    "timeout_s": 10,
}

_STATEMENTS: list[tuple[str, dict[str, object]]] = [
    ("INSERT INTO workspaces (id, name) VALUES (%(ws)s, 'Demo') ON CONFLICT DO NOTHING", {}),
    (
        "INSERT INTO ai_agents (id, workspace_id, slug, name, description, config, public_token,"
        " published_version, created_by) VALUES (%(agent)s, %(ws)s, 'support-bot', 'Support bot',"
        " 'Answers order questions', %(config)s, 'demo-public-token-support-bot-0000000000', 1,"
        " 'demo-owner') ON CONFLICT DO NOTHING",
        {"config": Jsonb(CONFIG)},
    ),
    (
        "INSERT INTO ai_agent_tools (id, workspace_id, agent_id, name, description, handler_kind,"
        " config, input_schema) VALUES (%(tool)s, %(ws)s, %(agent)s, 'order_status',"
        " 'Looks up an order', 'http', %(tool_config)s, %(schema)s)"
        " ON CONFLICT DO NOTHING",
        {
            "tool_config": Jsonb(TOOL_CONFIG),
            "schema": Jsonb(
                {
                    "type": "object",
                    "properties": {"order_id": {"type": "string"}},
                    "required": ["order_id"],
                }
            ),
        },
    ),
    (
        "INSERT INTO ai_agent_evals (id, workspace_id, agent_id, name, input, assertions)"
        " VALUES (%(eval)s, %(ws)s, %(agent)s, 'greets politely', 'hello', %(assertions)s)"
        " ON CONFLICT DO NOTHING",
        {"assertions": Jsonb([{"type": "contains", "value": "help"}])},
    ),
    (
        "INSERT INTO ai_agent_versions (workspace_id, agent_id, version, config, guardrails, tools)"
        " VALUES (%(ws)s, %(agent)s, 1, %(config)s, %(guardrails)s, '[]') ON CONFLICT DO NOTHING",
        {
            "config": Jsonb(CONFIG),
            "guardrails": Jsonb(
                [{"kind": k, "config": c, "enabled": True} for k, c in default_guardrails().items()]
            ),
        },
    ),
    (
        "INSERT INTO ai_agent_conversations (id, workspace_id, agent_id, channel, version, turns)"
        " VALUES (%(conv)s, %(ws)s, %(agent)s, 'embed', 1, 1) ON CONFLICT DO NOTHING",
        {},
    ),
    (
        "INSERT INTO ai_agent_messages (workspace_id, conversation_id, seq, role, content)"
        " VALUES (%(ws)s, %(conv)s, 1, 'user', 'Where is my order?'),"
        " (%(ws)s, %(conv)s, 2, 'assistant', 'Let me check that for you.')"
        " ON CONFLICT DO NOTHING",
        {},
    ),
    (
        "INSERT INTO ai_agent_drafts (id, workspace_id, data, created_by)"
        " VALUES (%(draft)s, %(ws)s, %(data)s, 'demo-owner') ON CONFLICT DO NOTHING",
        {"data": Jsonb({"step": 2, "name": "Returns assistant"})},
    ),
]


def seed_demo(admin_url: str) -> str:
    """Make sure the demo rows exist; returns the demo workspace id."""
    ids = {
        "ws": DEMO_WORKSPACE_ID,
        "agent": AGENT_ID,
        "tool": TOOL_ID,
        "eval": EVAL_ID,
        "conv": CONVERSATION_ID,
        "draft": DRAFT_ID,
    }
    with psycopg.connect(admin_url, autocommit=True) as conn, conn.transaction():
        for query, params in _STATEMENTS:
            conn.execute(query.encode(), {**ids, **params})
        for kind, config in default_guardrails().items():
            conn.execute(
                "INSERT INTO ai_agent_guardrails (id, workspace_id, agent_id, kind, config)"
                " VALUES (COALESCE(%(id)s, gen_random_uuid()), %(ws)s, %(agent)s, %(kind)s,"
                " %(config)s) ON CONFLICT DO NOTHING",
                {
                    **ids,
                    "id": GUARDRAIL_ID if kind == "AUTH" else None,
                    "kind": kind,
                    "config": Jsonb(config),
                },
            )
    return DEMO_WORKSPACE_ID
