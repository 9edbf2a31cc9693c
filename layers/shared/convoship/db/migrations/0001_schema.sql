-- The whole schema: workspaces, settings, secrets, audit, agents and everything they own.
-- Runs as convoship_owner. Every table with workspace data has a workspace_id column.

CREATE TABLE IF NOT EXISTS workspaces (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS workspace_agent_ops (
    workspace_id        uuid PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
    rpm_cap_per_agent   integer CHECK (rpm_cap_per_agent BETWEEN 0 AND 100000),
    eval_pass_threshold double precision NOT NULL DEFAULT 0
                        CHECK (eval_pass_threshold BETWEEN 0 AND 1),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    updated_by          text
);

CREATE TABLE IF NOT EXISTS workspace_llm_settings (
    workspace_id        uuid PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
    provider            text CHECK (provider IN ('openai', 'openai_compatible', 'anthropic', 'bedrock')),
    model               text,
    base_url            text,
    api_key_ciphertext  text,
    api_key_hint        text,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    updated_by          text
);

CREATE TABLE IF NOT EXISTS workspace_secrets (
    workspace_id        uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name                text NOT NULL CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_]{0,63}$'),
    value_ciphertext    text NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    updated_by          text,
    PRIMARY KEY (workspace_id, name)
);

-- Compliance log of every admin write in a workspace. Append-only for the app role.
CREATE TABLE IF NOT EXISTS audit_log (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id    uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    occurred_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor_type      text NOT NULL CHECK (actor_type IN ('user', 'system', 'visitor')),
    actor_id        text NOT NULL,
    action          text NOT NULL,
    resource_type   text NOT NULL,
    resource_id     text,
    request_id      text,
    before_state    jsonb,
    after_state     jsonb
);
CREATE INDEX IF NOT EXISTS audit_log_recent ON audit_log (workspace_id, occurred_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS audit_log_by_resource
    ON audit_log (workspace_id, resource_type, resource_id, occurred_at DESC);
CREATE INDEX IF NOT EXISTS audit_log_by_actor ON audit_log (workspace_id, actor_id, occurred_at DESC);
CREATE INDEX IF NOT EXISTS audit_log_by_action ON audit_log (workspace_id, action, occurred_at DESC);

CREATE TABLE IF NOT EXISTS ai_agents (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id        uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    slug                text NOT NULL CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    name                text NOT NULL,
    description         text,
    config              jsonb NOT NULL DEFAULT '{}'::jsonb,
    public_token        text NOT NULL UNIQUE,
    published_version   integer,
    created_by          text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, slug),
    UNIQUE (workspace_id, id)
);

CREATE TABLE IF NOT EXISTS ai_agent_versions (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id    uuid NOT NULL,
    agent_id        uuid NOT NULL,
    version         integer NOT NULL CHECK (version >= 1),
    config          jsonb NOT NULL,
    guardrails      jsonb NOT NULL,
    tools           jsonb NOT NULL,
    eval_results    jsonb NOT NULL DEFAULT '[]'::jsonb,
    eval_pass_rate  double precision,
    eval_threshold  double precision NOT NULL DEFAULT 0,
    note            text,
    created_by      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (agent_id, version),
    FOREIGN KEY (workspace_id, agent_id) REFERENCES ai_agents (workspace_id, id) ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS ai_agent_guardrails (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id    uuid NOT NULL,
    agent_id        uuid NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('AUTH', 'LIMIT', 'REDACT', 'ESCALATE', 'BUDGET')),
    config          jsonb NOT NULL,
    enabled         boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (agent_id, kind),  -- one guardrail of each kind per agent
    FOREIGN KEY (workspace_id, agent_id) REFERENCES ai_agents (workspace_id, id) ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS ai_agent_tools (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id    uuid NOT NULL,
    agent_id        uuid NOT NULL,
    name            text NOT NULL CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_-]{0,63}$'),
    description     text NOT NULL DEFAULT '',
    handler_kind    text NOT NULL CHECK (handler_kind IN ('http')),
    config          jsonb NOT NULL,
    input_schema    jsonb NOT NULL DEFAULT '{"type": "object"}'::jsonb,
    secret_refs     text[] NOT NULL DEFAULT '{}',  -- names used as {{secret:NAME}} in config
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (agent_id, name),
    FOREIGN KEY (workspace_id, agent_id) REFERENCES ai_agents (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS ai_agent_tools_secret_refs ON ai_agent_tools USING gin (secret_refs);

CREATE TABLE IF NOT EXISTS ai_agent_evals (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id    uuid NOT NULL,
    agent_id        uuid NOT NULL,
    name            text NOT NULL,
    input           text NOT NULL,
    assertions      jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (workspace_id, agent_id) REFERENCES ai_agents (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS ai_agent_evals_agent ON ai_agent_evals (agent_id);

CREATE TABLE IF NOT EXISTS ai_agent_conversations (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id    uuid NOT NULL,
    agent_id        uuid NOT NULL,
    channel         text NOT NULL CHECK (channel IN ('playground', 'embed')),
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'escalated', 'closed')),
    version         integer,
    usage           jsonb NOT NULL DEFAULT '{"input_tokens": 0, "output_tokens": 0}'::jsonb,
    turns           integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, id),
    FOREIGN KEY (workspace_id, agent_id) REFERENCES ai_agents (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS ai_agent_conversations_agent
    ON ai_agent_conversations (agent_id, created_at DESC);

CREATE TABLE IF NOT EXISTS ai_agent_messages (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id    uuid NOT NULL,
    conversation_id uuid NOT NULL,
    seq             integer NOT NULL,
    role            text NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
    content         text NOT NULL DEFAULT '',
    tool_name       text,
    tool_args       jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (conversation_id, seq),
    FOREIGN KEY (workspace_id, conversation_id)
        REFERENCES ai_agent_conversations (workspace_id, id) ON DELETE CASCADE
);

-- Tokens spent per agent and UTC day (BUDGET guardrail).
CREATE TABLE IF NOT EXISTS ai_agent_usage_daily (
    workspace_id    uuid NOT NULL,
    agent_id        uuid NOT NULL,
    day             date NOT NULL,
    tokens          bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (agent_id, day),
    FOREIGN KEY (workspace_id, agent_id) REFERENCES ai_agents (workspace_id, id) ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS ai_agent_drafts (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id    uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    data            jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_by      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS ai_agent_drafts_updated ON ai_agent_drafts (updated_at);
CREATE INDEX IF NOT EXISTS ai_agent_drafts_workspace ON ai_agent_drafts (workspace_id, updated_at DESC);

-- Agent-level audit trail. No foreign key to ai_agents: events outlive a deleted agent.
CREATE TABLE IF NOT EXISTS ai_agent_audit_events (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id    uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    agent_id        uuid NOT NULL,
    agent_slug      text NOT NULL,
    occurred_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor_type      text NOT NULL CHECK (actor_type IN ('user', 'system', 'visitor')),
    actor_id        text NOT NULL,
    action          text NOT NULL,
    target_type     text NOT NULL,
    target_id       text,
    request_id      text,
    before_state    jsonb,
    after_state     jsonb
);
CREATE INDEX IF NOT EXISTS ai_agent_audit_events_recent
    ON ai_agent_audit_events (workspace_id, agent_id, occurred_at DESC, id DESC);
