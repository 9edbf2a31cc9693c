-- Embed message policies look up the one conversation a row names (a primary-key probe
-- under the conversations' own embed policies) instead of `IN (SELECT ... all visible
-- conversations)`, which read every embed conversation of the agent on each message
-- insert and read: a cost that grew with the agent's history.

DROP POLICY IF EXISTS embed_messages_select ON ai_agent_messages;
CREATE POLICY embed_messages_select ON ai_agent_messages FOR SELECT TO convoship_app
    USING (current_public_token() IS NOT NULL AND EXISTS (
        SELECT 1 FROM ai_agent_conversations c WHERE c.id = conversation_id));

DROP POLICY IF EXISTS embed_messages_insert ON ai_agent_messages;
CREATE POLICY embed_messages_insert ON ai_agent_messages FOR INSERT TO convoship_app
    WITH CHECK (current_public_token() IS NOT NULL AND EXISTS (
        SELECT 1 FROM ai_agent_conversations c WHERE c.id = conversation_id));
