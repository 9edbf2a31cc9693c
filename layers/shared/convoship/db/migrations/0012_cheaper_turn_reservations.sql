-- The chat turn's reservation and write round trips, cheaper in PostgreSQL with the same
-- rules (migrations 0008 and 0010). Measured in a session replaying turns: the write's
-- function 156 -> 135 us, the reservation's flat at ~66 us instead of growing (see below).
-- - An index on (agent_id, expires_at): the sweep of lapsed reservations that every
--   reservation runs first becomes a range probe. On (agent_id, day) it read every
--   reservation of the agent not yet vacuumed, settled ones included (a bitmap scan does
--   not mark dead index entries), so for an agent without a day budget (whose day total,
--   a plain index scan, would mark them) each reservation cost more than the last until
--   autovacuum came round. The day total keeps (agent_id, day).
-- - reserve_chat_turn and settle_chat_turn check the caller's scope with
--   chat_turn_in_scope's rule written out (an EXISTS in the statement): a SQL function with
--   a subquery is never inlined, and each call set up a nested function with its own
--   pinned search_path. release_chat_turn (failed turns only) still calls it; the three
--   must say the same (tests/integration/test_turn_scope_rule.py holds it).
-- - write_chat_turn numbers a new conversation's messages without the max(seq) subquery,
--   whose plan (under the messages' and conversations' row-level security) was set up on
--   every call though a new conversation never ran it.
-- - plan_cache_mode = force_generic_plan on reserve and settle, as on the 0010 functions.
-- Same verdicts, locks in the same order, SECURITY DEFINER functions that check the
-- caller's scope themselves, search_path pinned with pg_temp last. Idempotent.

CREATE INDEX IF NOT EXISTS ai_agent_turn_reservations_agent_expiry
    ON ai_agent_turn_reservations (agent_id, expires_at);

-- As in 0008, with the scope rule written out.
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

-- As in 0008: a live reservation the caller's scope may hold (the rule written out).
CREATE OR REPLACE FUNCTION settle_chat_turn(p_id uuid) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    DELETE FROM ai_agent_turn_reservations r
     WHERE r.id = p_id AND r.expires_at > now()
       AND EXISTS (
           SELECT 1 FROM ai_agents a
            WHERE a.id = r.agent_id AND a.workspace_id = r.workspace_id
              AND CASE WHEN current_setting('role') = 'convoship_embed'
                            OR current_public_token() IS NOT NULL
                       THEN a.public_token = current_public_token() AND r.channel = 'embed'
                       ELSE a.workspace_id = current_workspace_id()
                  END);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the turn outlived its reservation' USING ERRCODE = 'serialization_failure';
    END IF;
END $$;

-- As in 0010; a new conversation's messages are numbered 1, 2, ... directly.
CREATE OR REPLACE FUNCTION write_chat_turn(
    p_id uuid, p_workspace uuid, p_agent uuid, p_channel text, p_status text,
    p_version integer, p_is_new boolean, p_in bigint, p_out bigint, p_messages jsonb,
    p_visitor text, p_reservation uuid
) RETURNS void LANGUAGE plpgsql SECURITY INVOKER
    SET search_path = pg_catalog, public, pg_temp SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    IF p_is_new THEN
        INSERT INTO ai_agent_conversations (id, workspace_id, agent_id, channel, status,
                                            version, usage, turns, visitor_sub)
        VALUES (p_id, p_workspace, p_agent, p_channel, p_status, p_version,
                jsonb_build_object('input_tokens', p_in, 'output_tokens', p_out), 1, p_visitor);
    ELSE
        UPDATE ai_agent_conversations c SET status = p_status, turns = c.turns + 1,
               updated_at = now(), usage = jsonb_build_object(
                   'input_tokens', COALESCE((c.usage->>'input_tokens')::bigint, 0) + p_in,
                   'output_tokens', COALESCE((c.usage->>'output_tokens')::bigint, 0) + p_out)
         WHERE c.id = p_id;
    END IF;
    IF p_reservation IS NOT NULL THEN  -- raises (serialization failure) if it lapsed
        PERFORM settle_chat_turn(p_reservation);
    END IF;
    IF p_is_new THEN
        INSERT INTO ai_agent_messages (workspace_id, conversation_id, seq, role, content,
                                       tool_name, tool_args)
        SELECT p_workspace, p_id, m.ord,
               m.msg->>'role', m.msg->>'content', m.msg->>'tool_name', m.msg->'tool_args'
          FROM jsonb_array_elements(p_messages) WITH ORDINALITY AS m(msg, ord);
    ELSE
        INSERT INTO ai_agent_messages (workspace_id, conversation_id, seq, role, content,
                                       tool_name, tool_args)
        SELECT p_workspace, p_id,
               (SELECT COALESCE(max(x.seq), 0) FROM ai_agent_messages x
                 WHERE x.conversation_id = p_id) + m.ord,
               m.msg->>'role', m.msg->>'content', m.msg->>'tool_name', m.msg->'tool_args'
          FROM jsonb_array_elements(p_messages) WITH ORDINALITY AS m(msg, ord);
    END IF;
    IF p_in + p_out <> 0 THEN
        INSERT INTO ai_agent_usage_daily (workspace_id, agent_id, day, tokens)
        VALUES (p_workspace, p_agent, (now() AT TIME ZONE 'utc')::date, p_in + p_out)
        ON CONFLICT (agent_id, day)
        DO UPDATE SET tokens = ai_agent_usage_daily.tokens + EXCLUDED.tokens;
    END IF;
END $$;
