-- Row-level security and grants. The app role sees one workspace per transaction
-- (app.workspace_id) or, for the embed, one agent by its public token
-- (app.ai_agent_public_token). Both settings are transaction-local; after a transaction
-- that set them they read as '' (hence NULLIF before the cast).

CREATE OR REPLACE FUNCTION current_workspace_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN NULLIF(current_setting('app.workspace_id', true), '')::uuid;

CREATE OR REPLACE FUNCTION current_public_token() RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN NULLIF(current_setting('app.ai_agent_public_token', true), '');

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY[
        'workspaces', 'workspace_agent_ops', 'workspace_llm_settings', 'workspace_secrets',
        'audit_log', 'ai_agents', 'ai_agent_versions', 'ai_agent_guardrails', 'ai_agent_tools',
        'ai_agent_evals', 'ai_agent_conversations', 'ai_agent_messages', 'ai_agent_usage_daily',
        'ai_agent_drafts', 'ai_agent_audit_events']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('DROP POLICY IF EXISTS workspace_isolation ON %I', t);
        IF t = 'workspaces' THEN
            EXECUTE 'CREATE POLICY workspace_isolation ON workspaces TO convoship_app
                     USING (id = current_workspace_id())';
        ELSE
            EXECUTE format('CREATE POLICY workspace_isolation ON %I TO convoship_app
                            USING (workspace_id = current_workspace_id())
                            WITH CHECK (workspace_id = current_workspace_id())', t);
        END IF;
    END LOOP;
END $$;

-- Embed (public token): only what a public chat needs.
DROP POLICY IF EXISTS embed_agent ON ai_agents;
CREATE POLICY embed_agent ON ai_agents FOR SELECT TO convoship_app
    USING (public_token = current_public_token());

DROP POLICY IF EXISTS embed_versions ON ai_agent_versions;
CREATE POLICY embed_versions ON ai_agent_versions FOR SELECT TO convoship_app
    USING (agent_id = (SELECT a.id FROM ai_agents a WHERE a.public_token = current_public_token()));

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['workspace_agent_ops', 'workspace_llm_settings', 'workspace_secrets']
    LOOP
        EXECUTE format('DROP POLICY IF EXISTS embed_workspace_settings ON %I', t);
        EXECUTE format('CREATE POLICY embed_workspace_settings ON %I FOR SELECT TO convoship_app
            USING (workspace_id = (SELECT a.workspace_id FROM ai_agents a
                                    WHERE a.public_token = current_public_token()))', t);
    END LOOP;
END $$;

-- Conversations, messages and usage: read, insert and (conversations, usage) update for the
-- token's own agent; never delete. Usage counters may only grow (trigger below), so a
-- public token cannot reset its BUDGET.
DO $$
DECLARE
    own_agent constant text :=
        '(SELECT a.id FROM ai_agents a WHERE a.public_token = current_public_token())';
    cmd text;
BEGIN
    FOREACH cmd IN ARRAY ARRAY['SELECT', 'INSERT', 'UPDATE'] LOOP
        EXECUTE format('DROP POLICY IF EXISTS embed_conversations_%s ON ai_agent_conversations',
                       lower(cmd));
        EXECUTE format('DROP POLICY IF EXISTS embed_usage_%s ON ai_agent_usage_daily', lower(cmd));
    END LOOP;
    EXECUTE 'CREATE POLICY embed_conversations_select ON ai_agent_conversations FOR SELECT
             TO convoship_app USING (channel = ''embed'' AND agent_id = ' || own_agent || ')';
    EXECUTE 'CREATE POLICY embed_conversations_insert ON ai_agent_conversations FOR INSERT
             TO convoship_app WITH CHECK (channel = ''embed'' AND agent_id = ' || own_agent || ')';
    EXECUTE 'CREATE POLICY embed_conversations_update ON ai_agent_conversations FOR UPDATE
             TO convoship_app USING (channel = ''embed'' AND agent_id = ' || own_agent || ')
             WITH CHECK (channel = ''embed'' AND agent_id = ' || own_agent || ')';
    EXECUTE 'CREATE POLICY embed_usage_select ON ai_agent_usage_daily FOR SELECT
             TO convoship_app USING (agent_id = ' || own_agent || ')';
    EXECUTE 'CREATE POLICY embed_usage_insert ON ai_agent_usage_daily FOR INSERT
             TO convoship_app WITH CHECK (agent_id = ' || own_agent || ')';
    EXECUTE 'CREATE POLICY embed_usage_update ON ai_agent_usage_daily FOR UPDATE
             TO convoship_app USING (agent_id = ' || own_agent || ')
             WITH CHECK (agent_id = ' || own_agent || ')';
END $$;

DROP POLICY IF EXISTS embed_messages_select ON ai_agent_messages;
CREATE POLICY embed_messages_select ON ai_agent_messages FOR SELECT TO convoship_app
    USING (conversation_id IN (SELECT c.id FROM ai_agent_conversations c));
DROP POLICY IF EXISTS embed_messages_insert ON ai_agent_messages;
CREATE POLICY embed_messages_insert ON ai_agent_messages FOR INSERT TO convoship_app
    WITH CHECK (conversation_id IN (SELECT c.id FROM ai_agent_conversations c));

CREATE OR REPLACE FUNCTION usage_only_grows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.tokens < OLD.tokens OR NEW.day <> OLD.day OR NEW.agent_id <> OLD.agent_id THEN
        RAISE EXCEPTION 'token usage only grows' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS usage_only_grows ON ai_agent_usage_daily;
CREATE TRIGGER usage_only_grows BEFORE UPDATE ON ai_agent_usage_daily
    FOR EACH ROW EXECUTE FUNCTION usage_only_grows();

-- The scheduled purge: stale drafts of any workspace, and its own audit rows; nothing else.
DROP POLICY IF EXISTS purge_stale_drafts ON ai_agent_drafts;
CREATE POLICY purge_stale_drafts ON ai_agent_drafts FOR ALL TO convoship_purge
    USING (updated_at < now() - make_interval(days => GREATEST(1, COALESCE(
        NULLIF(current_setting('app.draft_retention_days', true), '')::int, 30))));

DROP POLICY IF EXISTS purge_audit ON audit_log;
CREATE POLICY purge_audit ON audit_log FOR INSERT TO convoship_purge
    WITH CHECK (actor_type = 'system' AND action = 'drafts.purged');

-- Grants. Audit tables, versions and messages are append-only for the app role.
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM convoship_app, convoship_purge;
GRANT USAGE ON SCHEMA public TO convoship_app, convoship_purge;
GRANT SELECT ON workspaces TO convoship_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON
    workspace_agent_ops, workspace_llm_settings, workspace_secrets, ai_agents,
    ai_agent_guardrails, ai_agent_tools, ai_agent_evals, ai_agent_conversations,
    ai_agent_usage_daily, ai_agent_drafts
    TO convoship_app;
GRANT SELECT, INSERT ON audit_log, ai_agent_audit_events, ai_agent_versions, ai_agent_messages
    TO convoship_app;
GRANT SELECT, DELETE ON ai_agent_drafts TO convoship_purge;
GRANT INSERT ON audit_log TO convoship_purge;
GRANT EXECUTE ON FUNCTION current_workspace_id(), current_public_token()
    TO convoship_app, convoship_purge;
