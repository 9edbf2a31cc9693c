-- Counters only grow, whoever runs it (defence in depth against raw SQL in a request role):
-- 1. the app role may no longer DELETE conversations or daily usage (no route does; deleting
--    an agent or a workspace still removes them: foreign-key cascades run as the table
--    owner, whatever the deleting role may do);
-- 2. turn reservations are written only by reserve_chat_turn, settle_chat_turn and
--    release_chat_turn: SECURITY DEFINER functions owned by the table owner, with a pinned
--    search_path, that check the caller's scope themselves, set the expiry (at most 300 s)
--    and the day, and take what a request holds only by its id. Neither request role may
--    insert or delete a reservation; the embed role cannot read them either (it could list
--    the ids of other visitors' turns in flight and release them).

REVOKE DELETE ON ai_agent_conversations, ai_agent_usage_daily FROM convoship_app;
REVOKE ALL ON ai_agent_turn_reservations FROM convoship_app, convoship_embed;
GRANT SELECT ON ai_agent_turn_reservations TO convoship_app;
DROP POLICY IF EXISTS embed_select ON ai_agent_turn_reservations;
DROP POLICY IF EXISTS embed_insert ON ai_agent_turn_reservations;
DROP POLICY IF EXISTS embed_delete ON ai_agent_turn_reservations;

-- What the functions see while they run as the owner (FORCE ROW LEVEL SECURITY binds the
-- owner too): the scope of the transaction that called them, a workspace or one public
-- agent, as the request roles would.
DO $$
DECLARE
    own_agent constant text :=
        '(SELECT a.id FROM ai_agents a WHERE a.public_token = current_public_token())';
    in_scope constant text :=
        '(workspace_id = current_workspace_id() OR agent_id = ' || own_agent || ')';
BEGIN
    DROP POLICY IF EXISTS turn_functions ON ai_agents;
    CREATE POLICY turn_functions ON ai_agents FOR SELECT TO convoship_owner
        USING (workspace_id = current_workspace_id() OR public_token = current_public_token());
    DROP POLICY IF EXISTS turn_functions ON ai_agent_conversations;
    DROP POLICY IF EXISTS turn_functions_lock ON ai_agent_conversations;
    EXECUTE 'CREATE POLICY turn_functions ON ai_agent_conversations FOR SELECT
             TO convoship_owner USING ' || in_scope;
    -- SELECT ... FOR UPDATE (the conversation's row lock) needs an UPDATE policy as well;
    -- the functions never update a conversation.
    EXECUTE 'CREATE POLICY turn_functions_lock ON ai_agent_conversations FOR UPDATE
             TO convoship_owner USING ' || in_scope || ' WITH CHECK (false)';
    DROP POLICY IF EXISTS turn_functions ON ai_agent_usage_daily;
    EXECUTE 'CREATE POLICY turn_functions ON ai_agent_usage_daily FOR SELECT
             TO convoship_owner USING ' || in_scope;
    DROP POLICY IF EXISTS turn_functions ON ai_agent_turn_reservations;
    EXECUTE 'CREATE POLICY turn_functions ON ai_agent_turn_reservations
             TO convoship_owner USING ' || in_scope || ' WITH CHECK ' || in_scope;
END $$;

-- Whether the calling transaction may hold turns of this agent on this channel: a public
-- chat (the embed role, or a public token set) only its own agent's embed channel; a
-- studio request only agents of its workspace.
CREATE OR REPLACE FUNCTION chat_turn_in_scope(p_workspace uuid, p_agent uuid, p_channel text)
    RETURNS boolean LANGUAGE sql STABLE
    SET search_path = pg_catalog, public
    RETURN EXISTS (
        SELECT 1 FROM ai_agents a
         WHERE a.id = p_agent AND a.workspace_id = p_workspace
           AND CASE WHEN current_setting('role') = 'convoship_embed'
                         OR current_public_token() IS NOT NULL
                    THEN a.public_token = current_public_token() AND p_channel = 'embed'
                    ELSE a.workspace_id = current_workspace_id()
               END);
REVOKE ALL ON FUNCTION chat_turn_in_scope(uuid, uuid, text) FROM PUBLIC;

-- As in 0006, plus: the caller's scope is checked ('no-agent' when the agent is not one it
-- may hold turns of, e.g. deleted meanwhile), and the expiry must be 1 to 300 s.
CREATE OR REPLACE FUNCTION reserve_chat_turn(
    p_id uuid, p_workspace uuid, p_agent uuid, p_channel text, p_conversation uuid,
    p_existing boolean, p_visitor text, p_tokens bigint, p_max_turns integer,
    p_max_conversation_tokens bigint, p_max_day_tokens bigint, p_ttl_s integer
) RETURNS text LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public AS $$
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
    IF NOT chat_turn_in_scope(p_workspace, p_agent, p_channel) THEN
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

-- As in 0006, for a reservation the caller's scope may hold.
CREATE OR REPLACE FUNCTION settle_chat_turn(p_id uuid) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public AS $$
BEGIN
    DELETE FROM ai_agent_turn_reservations r
     WHERE r.id = p_id AND r.expires_at > now()
       AND chat_turn_in_scope(r.workspace_id, r.agent_id, r.channel);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the turn outlived its reservation' USING ERRCODE = 'serialization_failure';
    END IF;
END $$;

-- Give back what a failed turn held (lapsed or not); nothing when the id is unknown or not
-- the caller's to release.
CREATE OR REPLACE FUNCTION release_chat_turn(p_id uuid) RETURNS void
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, public
    BEGIN ATOMIC
        DELETE FROM ai_agent_turn_reservations r
         WHERE r.id = p_id AND chat_turn_in_scope(r.workspace_id, r.agent_id, r.channel);
    END;

REVOKE ALL ON FUNCTION reserve_chat_turn(uuid, uuid, uuid, text, uuid, boolean, text, bigint,
    integer, bigint, bigint, integer), settle_chat_turn(uuid), release_chat_turn(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reserve_chat_turn(uuid, uuid, uuid, text, uuid, boolean, text, bigint,
    integer, bigint, bigint, integer), settle_chat_turn(uuid), release_chat_turn(uuid)
    TO convoship_app, convoship_embed;
