-- Public (embed) requests run as convoship_embed (SET LOCAL ROLE inside their transaction):
-- the embed policies move from convoship_app to that role, which holds only the grants a
-- public chat needs. Studio queries no longer carry the embed policies in their plans, and
-- public traffic no longer holds the studio's table privileges.

DROP POLICY IF EXISTS embed_agent ON ai_agents;
CREATE POLICY embed_agent ON ai_agents FOR SELECT TO convoship_embed
    USING (public_token = current_public_token());

DROP POLICY IF EXISTS embed_versions ON ai_agent_versions;
CREATE POLICY embed_versions ON ai_agent_versions FOR SELECT TO convoship_embed
    USING (agent_id = (SELECT a.id FROM ai_agents a WHERE a.public_token = current_public_token()));

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['workspace_agent_ops', 'workspace_llm_settings', 'workspace_secrets']
    LOOP
        EXECUTE format('DROP POLICY IF EXISTS embed_workspace_settings ON %I', t);
        EXECUTE format('CREATE POLICY embed_workspace_settings ON %I FOR SELECT TO convoship_embed
            USING (workspace_id = (SELECT a.workspace_id FROM ai_agents a
                                    WHERE a.public_token = current_public_token()))', t);
    END LOOP;
END $$;

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
             TO convoship_embed USING (channel = ''embed'' AND agent_id = ' || own_agent || ')';
    EXECUTE 'CREATE POLICY embed_conversations_insert ON ai_agent_conversations FOR INSERT
             TO convoship_embed WITH CHECK (channel = ''embed'' AND agent_id = ' || own_agent || ')';
    EXECUTE 'CREATE POLICY embed_conversations_update ON ai_agent_conversations FOR UPDATE
             TO convoship_embed USING (channel = ''embed'' AND agent_id = ' || own_agent || ')
             WITH CHECK (channel = ''embed'' AND agent_id = ' || own_agent || ')';
    EXECUTE 'CREATE POLICY embed_usage_select ON ai_agent_usage_daily FOR SELECT
             TO convoship_embed USING (agent_id = ' || own_agent || ')';
    EXECUTE 'CREATE POLICY embed_usage_insert ON ai_agent_usage_daily FOR INSERT
             TO convoship_embed WITH CHECK (agent_id = ' || own_agent || ')';
    EXECUTE 'CREATE POLICY embed_usage_update ON ai_agent_usage_daily FOR UPDATE
             TO convoship_embed USING (agent_id = ' || own_agent || ')
             WITH CHECK (agent_id = ' || own_agent || ')';
END $$;

-- Message policies probe the one conversation a row names (a primary-key lookup under the
-- conversations' own embed policies), not `IN (SELECT ... every visible conversation)`,
-- whose cost grew with the agent's history.
DROP POLICY IF EXISTS embed_messages_select ON ai_agent_messages;
CREATE POLICY embed_messages_select ON ai_agent_messages FOR SELECT TO convoship_embed
    USING (EXISTS (SELECT 1 FROM ai_agent_conversations c WHERE c.id = conversation_id));
DROP POLICY IF EXISTS embed_messages_insert ON ai_agent_messages;
CREATE POLICY embed_messages_insert ON ai_agent_messages FOR INSERT TO convoship_embed
    WITH CHECK (EXISTS (SELECT 1 FROM ai_agent_conversations c WHERE c.id = conversation_id));

-- What a public chat needs, and nothing else (no DELETE anywhere; messages append-only).
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM convoship_embed;
GRANT USAGE ON SCHEMA public TO convoship_embed;
GRANT SELECT ON ai_agents, ai_agent_versions, workspace_agent_ops, workspace_llm_settings,
    workspace_secrets TO convoship_embed;
GRANT SELECT, INSERT, UPDATE ON ai_agent_conversations, ai_agent_usage_daily TO convoship_embed;
GRANT SELECT, INSERT ON ai_agent_messages TO convoship_embed;
GRANT EXECUTE ON FUNCTION current_public_token() TO convoship_embed;
