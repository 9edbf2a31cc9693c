-- A continuing conversation's recent messages are read once in the turn's read, not twice.
-- reserve_published_turn (0013) read them to estimate the turn's tokens, and the same batch
-- read them again for the model (chat/conversation.py): a second scan of up to 50 messages
-- under the messages' row-level security, planned afresh on every turn (~0.35 ms of a
-- continuing turn's read in PostgreSQL, measured with auto_explain). It now returns what it
-- read (`history`: the last p_history user and assistant messages, oldest first, as
-- [{"role", "content"}]; NULL for a new conversation) whatever its verdict, reading them
-- before the version check, so a stale or refused turn has them too; the estimate is
-- computed from the same rows. An escalated conversation's history is read too (its turn
-- reserves no tokens, as before). Same verdicts, the reservation through reserve_chat_turn
-- as before. The return type changes: dropped and created again. SECURITY INVOKER,
-- search_path pinned with pg_temp last, generic plan. Idempotent.

DROP FUNCTION IF EXISTS reserve_published_turn(uuid, uuid, uuid, integer, uuid, boolean, bigint,
    integer, bigint, integer, boolean, integer, bigint, bigint, integer);

CREATE FUNCTION reserve_published_turn(
    p_id uuid, p_workspace uuid, p_agent uuid, p_version integer, p_conversation uuid,
    p_existing boolean, p_fixed_bytes bigint, p_fixed_texts integer, p_max_output bigint,
    p_history integer, p_escalates boolean, p_max_turns integer,
    p_max_conversation_tokens bigint, p_max_day_tokens bigint, p_ttl_s integer
) RETURNS TABLE (verdict text, tokens bigint, history json) LANGUAGE plpgsql SECURITY INVOKER
    SET search_path = pg_catalog, public, pg_temp SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
DECLARE
    latest integer;
    recent json;
    history_bytes bigint := 0;
    history_texts integer := 0;
    estimate bigint;
BEGIN
    IF p_existing THEN  -- the history the model reads (chat/conversation.py)
        SELECT json_agg(json_build_object('role', r.role, 'content', r.content) ORDER BY r.seq),
               COALESCE(sum(octet_length(r.content)), 0), count(*)
          INTO recent, history_bytes, history_texts
          FROM (SELECT m.seq, m.role, m.content FROM ai_agent_messages m
                 WHERE m.conversation_id = p_conversation
                   AND m.role IN ('user', 'assistant')
                 ORDER BY m.seq DESC LIMIT p_history) r;
        recent := COALESCE(recent, '[]'::json);
    END IF;
    SELECT max(v.version) INTO latest FROM ai_agent_versions v WHERE v.agent_id = p_agent;
    IF latest IS DISTINCT FROM p_version THEN
        RETURN QUERY SELECT 'stale'::text, NULL::bigint, recent;
        RETURN;
    END IF;
    IF p_existing AND p_escalates AND EXISTS (
        SELECT 1 FROM ai_agent_conversations c
         WHERE c.id = p_conversation AND c.agent_id = p_agent AND c.status = 'escalated') THEN
        estimate := 0;
    ELSE
        estimate := (p_fixed_bytes + history_bytes + 2) / 3
                    + 4 * (p_fixed_texts + history_texts) + p_max_output;
    END IF;
    RETURN QUERY SELECT reserve_chat_turn(p_id, p_workspace, p_agent, 'embed', p_conversation,
                                          p_existing, NULL, estimate, p_max_turns,
                                          p_max_conversation_tokens, p_max_day_tokens, p_ttl_s),
                        estimate, recent;
END $$;

REVOKE ALL ON FUNCTION reserve_published_turn(uuid, uuid, uuid, integer, uuid, boolean, bigint,
    integer, bigint, integer, boolean, integer, bigint, bigint, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reserve_published_turn(uuid, uuid, uuid, integer, uuid, boolean,
    bigint, integer, bigint, integer, boolean, integer, bigint, bigint, integer)
    TO convoship_app, convoship_embed;
