-- Two holes in the turn's reservations, closed with the same rules otherwise:
-- - reserve_chat_turn with p_existing false on the id of a conversation that exists skipped
--   the conversation's visitor check, yet its reservation counted among that conversation's
--   held turns: a caller of raw SQL in the embed role could hold another visitor's
--   conversation (its turns refused, 'turns', for up to 300 s). A new conversation's id now
--   must name none ('not-found'). (Over HTTP a new conversation's id is the server's.)
-- - A failed turn's charge (chat/spent.py) took its reservation out and charged its usage
--   unconditionally, so a turn whose write committed but whose answer was lost (the
--   connection dropped after COMMIT) was charged twice: once settled, once as failed.
--   charge_failed_chat_turn charges only while the turn's reservation is still there to take
--   (take_chat_turn: deleted, in the caller's scope, and said whether it was); a settled one
--   is gone, so the turn was written and charged already.
-- search_path pinned with pg_temp last. Idempotent.

-- As in 0012, refusing a "new" conversation whose id exists.
CREATE OR REPLACE FUNCTION reserve_chat_turn(
    p_id uuid, p_workspace uuid, p_agent uuid, p_channel text, p_conversation uuid,
    p_existing boolean, p_visitor text, p_tokens bigint, p_max_turns integer,
    p_max_conversation_tokens bigint, p_max_day_tokens bigint, p_ttl_s integer
) RETURNS text LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    today constant date := (now() AT TIME ZONE 'utc')::date;
    need constant bigint := GREATEST(p_tokens, 1);
    used_turns integer := 0;
    used_tokens bigint := 0;
    bound_to text;
    held_turns integer;
    held_tokens bigint;
    day_total bigint;
BEGIN
    IF p_ttl_s IS NULL OR p_ttl_s NOT BETWEEN 1 AND 300 THEN
        RAISE EXCEPTION 'a turn is held for 1 to 300 seconds' USING ERRCODE = 'check_violation';
    END IF;
    -- chat_turn_in_scope(p_workspace, p_agent, p_channel), written out
    IF NOT EXISTS (
        SELECT 1 FROM ai_agents a
         WHERE a.id = p_agent AND a.workspace_id = p_workspace
           AND CASE WHEN current_setting('role') = 'convoship_embed'
                         OR current_public_token() IS NOT NULL
                    THEN a.public_token = current_public_token() AND p_channel = 'embed'
                    ELSE a.workspace_id = current_workspace_id()
               END) THEN
        RETURN 'no-agent';
    END IF;
    -- Reservations that lapsed a while ago (their container died): swept before any lock.
    DELETE FROM ai_agent_turn_reservations
     WHERE agent_id = p_agent AND expires_at < now() - interval '1 minute';
    IF NOT p_existing AND EXISTS (
        SELECT 1 FROM ai_agent_conversations c WHERE c.id = p_conversation) THEN
        RETURN 'not-found';  -- a new conversation's id names one already: not a new one
    END IF;
    IF p_existing THEN
        SELECT c.turns,
               COALESCE((c.usage->>'input_tokens')::bigint, 0)
                 + COALESCE((c.usage->>'output_tokens')::bigint, 0),
               c.visitor_sub
          INTO used_turns, used_tokens, bound_to
          FROM ai_agent_conversations c
         WHERE c.id = p_conversation AND c.agent_id = p_agent AND c.channel = p_channel
           FOR UPDATE;
        IF NOT FOUND OR bound_to IS DISTINCT FROM p_visitor THEN
            RETURN 'not-found';
        END IF;
    END IF;
    SELECT count(*), COALESCE(sum(r.tokens), 0) INTO held_turns, held_tokens
      FROM ai_agent_turn_reservations r
     WHERE r.conversation_id = p_conversation AND r.expires_at > now();
    IF used_turns + held_turns + 1 > p_max_turns THEN
        RETURN 'turns';
    END IF;
    IF used_tokens + held_tokens + need > p_max_conversation_tokens THEN
        RETURN 'conversation-tokens';
    END IF;
    IF p_max_day_tokens IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock(hashtextextended(p_agent::text || '/' || today::text, 0));
        -- One statement, one snapshot: a settle commits its usage and drops its
        -- reservation together, so the sum never misses or doubles a turn.
        SELECT COALESCE((SELECT u.tokens FROM ai_agent_usage_daily u
                          WHERE u.agent_id = p_agent AND u.day = today), 0)
               + COALESCE((SELECT sum(r.tokens) FROM ai_agent_turn_reservations r
                            WHERE r.agent_id = p_agent AND r.day = today
                              AND r.expires_at > now()), 0)
          INTO day_total;
        IF day_total + need > p_max_day_tokens THEN
            RETURN 'day-tokens';
        END IF;
    END IF;
    INSERT INTO ai_agent_turn_reservations
        (id, workspace_id, agent_id, conversation_id, channel, day, tokens, expires_at)
    VALUES (p_id, p_workspace, p_agent, p_conversation, p_channel, today, p_tokens,
            now() + make_interval(secs => p_ttl_s));
    RETURN 'reserved';
END $$;

-- Take a reservation out (lapsed or not) if the caller's scope may hold it; whether it did.
CREATE OR REPLACE FUNCTION take_chat_turn(p_id uuid) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    DELETE FROM ai_agent_turn_reservations r
     WHERE r.id = p_id AND chat_turn_in_scope(r.workspace_id, r.agent_id, r.channel);
    RETURN FOUND;
END $$;

-- What a failed turn spent: into the conversation's usage (an existing one, its row lock
-- first, as reserve_chat_turn and a settling turn take it) and the agent's day, unless its
-- reservation is gone (settled: the turn was written). Runs as the caller.
CREATE OR REPLACE FUNCTION charge_failed_chat_turn(
    p_conversation uuid, p_workspace uuid, p_agent uuid, p_existing boolean, p_in bigint,
    p_out bigint, p_reservation uuid
) RETURNS boolean LANGUAGE plpgsql SECURITY INVOKER
    SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF p_existing THEN
        PERFORM 1 FROM ai_agent_conversations c WHERE c.id = p_conversation FOR UPDATE;
    END IF;
    IF p_reservation IS NOT NULL AND NOT take_chat_turn(p_reservation) THEN
        RETURN false;
    END IF;
    IF p_existing THEN
        UPDATE ai_agent_conversations c SET updated_at = now(), usage = jsonb_build_object(
                   'input_tokens', COALESCE((c.usage->>'input_tokens')::bigint, 0) + p_in,
                   'output_tokens', COALESCE((c.usage->>'output_tokens')::bigint, 0) + p_out)
         WHERE c.id = p_conversation;
    END IF;
    INSERT INTO ai_agent_usage_daily (workspace_id, agent_id, day, tokens)
    VALUES (p_workspace, p_agent, (now() AT TIME ZONE 'utc')::date, p_in + p_out)
    ON CONFLICT (agent_id, day)
    DO UPDATE SET tokens = ai_agent_usage_daily.tokens + EXCLUDED.tokens;
    RETURN true;
END $$;

REVOKE ALL ON FUNCTION take_chat_turn(uuid),
    charge_failed_chat_turn(uuid, uuid, uuid, boolean, bigint, bigint, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION take_chat_turn(uuid),
    charge_failed_chat_turn(uuid, uuid, uuid, boolean, bigint, bigint, uuid)
    TO convoship_app, convoship_embed;
