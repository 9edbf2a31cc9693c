-- The embed role's message policies probe the one conversation a row names, always.
-- 0003 wrote them as EXISTS (SELECT 1 FROM ai_agent_conversations c WHERE c.id =
-- conversation_id) so that each message costs one primary-key probe. The planner may still
-- turn such an EXISTS into a hashed ANY: it then reads every embed conversation of the
-- token's agent into a hash table, once per statement. It does so when it believes the
-- agent has few conversations (no statistics yet, or statistics taken before the agent
-- grew), and a plpgsql function keeps that generic plan for the whole session: a
-- continuing turn's write (the next message number, write_chat_turn) and its read (the
-- recent messages, reserve_published_turn) then cost time in proportion to all of the
-- agent's conversations (measured: 1.04 ms with 3,000 conversations, 0.11 ms probing).
-- OFFSET 0 keeps the subquery as it is written (PostgreSQL does not simplify an EXISTS
-- with an OFFSET): a probe per message read or written, whatever the statistics say. Same
-- rows visible and insertable as before. Idempotent.

DROP POLICY IF EXISTS embed_messages_select ON ai_agent_messages;
CREATE POLICY embed_messages_select ON ai_agent_messages FOR SELECT TO convoship_embed
    USING (EXISTS (SELECT 1 FROM ai_agent_conversations c WHERE c.id = conversation_id
                   OFFSET 0));
DROP POLICY IF EXISTS embed_messages_insert ON ai_agent_messages;
CREATE POLICY embed_messages_insert ON ai_agent_messages FOR INSERT TO convoship_embed
    WITH CHECK (EXISTS (SELECT 1 FROM ai_agent_conversations c WHERE c.id = conversation_id
                        OFFSET 0));
