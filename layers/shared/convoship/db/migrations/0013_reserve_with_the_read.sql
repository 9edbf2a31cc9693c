-- An embed turn's reservation in its read's round trip (chat/read_ahead.py): when the
-- container already served the agent's latest published version, the turn's first round
-- trip reads it and reserves, so the turn costs two round trips, not three.
-- The caller has counted the request's RPM and judged the version's own checks (AUTH
-- origin, LIMIT's input size, ESCALATE's keywords) before sending it; this function checks
-- that the version it judged is still the latest, estimates the turn's tokens from the
-- conversation's recent history as the caller does (chat/reservation.py:
-- ceil(bytes / 3) + 4 per text + max_output_tokens), and reserves through
-- reserve_chat_turn (its verdicts, locks and scope checks unchanged).
-- A conversation already escalated, on a version with ESCALATE (p_escalates), is answered
-- with the escalation message, not the model: it reserves a turn and no tokens, as the turn
-- does. 'stale' when the latest published version is not p_version (nothing reserved).
-- SECURITY INVOKER: the version and the history are read as the caller, under its
-- row-level security; search_path pinned with pg_temp last. Idempotent.

CREATE OR REPLACE FUNCTION reserve_published_turn(
    p_id uuid, p_workspace uuid, p_agent uuid, p_version integer, p_conversation uuid,
    p_existing boolean, p_fixed_bytes bigint, p_fixed_texts integer, p_max_output bigint,
    p_history integer, p_escalates boolean, p_max_turns integer,
    p_max_conversation_tokens bigint, p_max_day_tokens bigint, p_ttl_s integer
) RETURNS TABLE (verdict text, tokens bigint) LANGUAGE plpgsql SECURITY INVOKER
    SET search_path = pg_catalog, public, pg_temp SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
DECLARE
    latest integer;
    history_bytes bigint := 0;
    history_texts integer := 0;
    estimate bigint;
BEGIN
    SELECT max(v.version) INTO latest FROM ai_agent_versions v WHERE v.agent_id = p_agent;
    IF latest IS DISTINCT FROM p_version THEN
        RETURN QUERY SELECT 'stale'::text, NULL::bigint;
        RETURN;
    END IF;
    IF p_existing AND p_escalates AND EXISTS (
        SELECT 1 FROM ai_agent_conversations c
         WHERE c.id = p_conversation AND c.agent_id = p_agent AND c.status = 'escalated') THEN
        estimate := 0;
    ELSE
        IF p_existing THEN  -- the history the model reads (chat/conversation.py)
            SELECT COALESCE(sum(octet_length(r.content)), 0), count(*)
              INTO history_bytes, history_texts
              FROM (SELECT m.content FROM ai_agent_messages m
                     WHERE m.conversation_id = p_conversation
                       AND m.role IN ('user', 'assistant')
                     ORDER BY m.seq DESC LIMIT p_history) r;
        END IF;
        estimate := (p_fixed_bytes + history_bytes + 2) / 3
                    + 4 * (p_fixed_texts + history_texts) + p_max_output;
    END IF;
    RETURN QUERY SELECT reserve_chat_turn(p_id, p_workspace, p_agent, 'embed', p_conversation,
                                          p_existing, NULL, estimate, p_max_turns,
                                          p_max_conversation_tokens, p_max_day_tokens, p_ttl_s),
                        estimate;
END $$;

REVOKE ALL ON FUNCTION reserve_published_turn(uuid, uuid, uuid, integer, uuid, boolean, bigint,
    integer, bigint, integer, boolean, integer, bigint, bigint, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reserve_published_turn(uuid, uuid, uuid, integer, uuid, boolean,
    bigint, integer, bigint, integer, boolean, integer, bigint, bigint, integer)
    TO convoship_app, convoship_embed;
