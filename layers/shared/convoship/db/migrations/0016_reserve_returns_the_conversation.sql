-- A continuing conversation is read once in its turn's read, not two or three times.
-- reserve_published_turn (0013) read its recent messages to estimate the turn's tokens and
-- checked whether it was escalated, and the same batch then read the conversation's row and
-- its messages again for the turn (chat/conversation.py): top-level statements planned
-- afresh on every turn under row-level security, and a second scan of up to 50 messages
-- (about 0.35 ms of a long conversation's read in PostgreSQL, measured with auto_explain,
-- and 0.15 ms for the row query alone). It now returns what it read, whatever its verdict
-- (read before the version check, so a stale or refused turn has it too):
-- - the conversation's row as the turn reads it (`conversation_found`, `_status`, `_turns`,
--   `_usage`, `_visitor`): the embed conversation of that id of the token's own agent,
--   under the caller's row-level security; found is false, the rest NULL, when there is
--   none;
-- - `history`: its last p_history user and assistant messages, oldest first, as
--   [{"role", "content"}]; the estimate is computed from the same rows.
-- All NULL for a new conversation. An escalated conversation (the status read) reserves a
-- turn and no tokens, as before. Same verdicts, the reservation through reserve_chat_turn
-- as before. The return type changes: dropped and created again. SECURITY INVOKER,
-- search_path pinned with pg_temp last, generic plan. Idempotent.

DROP FUNCTION IF EXISTS reserve_published_turn(uuid, uuid, uuid, integer, uuid, boolean, bigint,
    integer, bigint, integer, boolean, integer, bigint, bigint, integer);

CREATE FUNCTION reserve_published_turn(
    p_id uuid, p_workspace uuid, p_agent uuid, p_version integer, p_conversation uuid,
    p_existing boolean, p_fixed_bytes bigint, p_fixed_texts integer, p_max_output bigint,
    p_history integer, p_escalates boolean, p_max_turns integer,
    p_max_conversation_tokens bigint, p_max_day_tokens bigint, p_ttl_s integer
) RETURNS TABLE (
    verdict text, tokens bigint, conversation_found boolean, conversation_status text,
    conversation_turns integer, conversation_usage jsonb, conversation_visitor text,
    history json
) LANGUAGE plpgsql SECURITY INVOKER
    SET search_path = pg_catalog, public, pg_temp SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
DECLARE
    latest integer;
    is_found boolean;  -- NULL: a new conversation
    conv_status text;
    conv_turns integer;
    conv_usage jsonb;
    conv_visitor text;
    recent json;
    history_bytes bigint := 0;
    history_texts integer := 0;
    estimate bigint;
BEGIN
    IF p_existing THEN  -- the conversation and the history the turn reads (chat/conversation.py)
        SELECT c.status, c.turns, c.usage, c.visitor_sub
          INTO conv_status, conv_turns, conv_usage, conv_visitor
          FROM ai_agent_conversations c
         WHERE c.id = p_conversation AND c.channel = 'embed'
           AND c.agent_id = (SELECT a.id FROM ai_agents a
                              WHERE a.public_token = current_public_token());
        is_found := FOUND;
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
        RETURN QUERY SELECT 'stale'::text, NULL::bigint, is_found, conv_status, conv_turns,
                            conv_usage, conv_visitor, recent;
        RETURN;
    END IF;
    IF p_escalates AND is_found AND conv_status = 'escalated' THEN
        estimate := 0;
    ELSE
        estimate := (p_fixed_bytes + history_bytes + 2) / 3
                    + 4 * (p_fixed_texts + history_texts) + p_max_output;
    END IF;
    RETURN QUERY SELECT reserve_chat_turn(p_id, p_workspace, p_agent, 'embed', p_conversation,
                                          p_existing, NULL, estimate, p_max_turns,
                                          p_max_conversation_tokens, p_max_day_tokens, p_ttl_s),
                        estimate, is_found, conv_status, conv_turns, conv_usage, conv_visitor,
                        recent;
END $$;

REVOKE ALL ON FUNCTION reserve_published_turn(uuid, uuid, uuid, integer, uuid, boolean, bigint,
    integer, bigint, integer, boolean, integer, bigint, bigint, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reserve_published_turn(uuid, uuid, uuid, integer, uuid, boolean,
    bigint, integer, bigint, integer, boolean, integer, bigint, bigint, integer)
    TO convoship_app, convoship_embed;
