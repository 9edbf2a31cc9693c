-- Limits that hold (issue 10):
-- 1. an embed conversation belongs to the visitor (token `sub`) who started it;
-- 2. LIMIT and BUDGET are exact under concurrency: a turn reserves its turn and its tokens
--    before the model call (reserve_chat_turn), settles them with the real usage in the
--    transaction that writes the turn (settle_chat_turn) or releases them when it fails;
--    a reservation carries an expiry, so one held by a container that died lapses by itself;
-- 3. conversation counters only grow (no BUDGET or LIMIT reset through raw SQL), and the
--    embed role may only move a conversation's status to `escalated`;
-- 4. the rate limiter's shared counter for when Redis cannot be reached (production).

ALTER TABLE ai_agent_conversations ADD COLUMN IF NOT EXISTS visitor_sub text;

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_constraint WHERE conname = 'ai_agent_conversations_counters_not_negative') THEN
        ALTER TABLE ai_agent_conversations ADD CONSTRAINT ai_agent_conversations_counters_not_negative
            CHECK (turns >= 0
                   AND COALESCE((usage->>'input_tokens')::bigint, 0) >= 0
                   AND COALESCE((usage->>'output_tokens')::bigint, 0) >= 0);
    END IF;
    IF NOT EXISTS (SELECT FROM pg_constraint WHERE conname = 'ai_agent_usage_daily_tokens_not_negative') THEN
        ALTER TABLE ai_agent_usage_daily ADD CONSTRAINT ai_agent_usage_daily_tokens_not_negative
            CHECK (tokens >= 0);
    END IF;
END $$;

-- Turns, usage only grow and the visitor never changes, whoever writes; the embed role also
-- keeps identity columns and may only escalate. (The app role's studio code never lowers
-- a counter either.)
CREATE OR REPLACE FUNCTION conversation_counters_only_grow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.turns < OLD.turns
       OR COALESCE((NEW.usage->>'input_tokens')::bigint, 0) < COALESCE((OLD.usage->>'input_tokens')::bigint, 0)
       OR COALESCE((NEW.usage->>'output_tokens')::bigint, 0) < COALESCE((OLD.usage->>'output_tokens')::bigint, 0)
       OR NEW.visitor_sub IS DISTINCT FROM OLD.visitor_sub THEN
        RAISE EXCEPTION 'a conversation''s turns and usage only grow and its visitor never changes'
            USING ERRCODE = 'check_violation';
    END IF;
    IF current_user = 'convoship_embed' AND (
           (NEW.status IS DISTINCT FROM OLD.status AND NEW.status <> 'escalated')
           OR NEW.id <> OLD.id OR NEW.workspace_id <> OLD.workspace_id
           OR NEW.agent_id <> OLD.agent_id OR NEW.channel <> OLD.channel
           OR NEW.version IS DISTINCT FROM OLD.version OR NEW.created_at <> OLD.created_at) THEN
        RAISE EXCEPTION 'a public chat may only add to a conversation or escalate it'
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS conversation_counters_only_grow ON ai_agent_conversations;
CREATE TRIGGER conversation_counters_only_grow BEFORE UPDATE ON ai_agent_conversations
    FOR EACH ROW EXECUTE FUNCTION conversation_counters_only_grow();

-- What in-flight turns hold. conversation_id has no foreign key: a new conversation's first
-- turn reserves before its row exists (the id is the server's, never the caller's).
CREATE TABLE IF NOT EXISTS ai_agent_turn_reservations (
    id              uuid PRIMARY KEY,
    workspace_id    uuid NOT NULL,
    agent_id        uuid NOT NULL,
    conversation_id uuid NOT NULL,
    channel         text NOT NULL CHECK (channel IN ('playground', 'embed')),
    day             date NOT NULL,
    tokens          bigint NOT NULL CHECK (tokens >= 0),
    expires_at      timestamptz NOT NULL,
    FOREIGN KEY (workspace_id, agent_id) REFERENCES ai_agents (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS ai_agent_turn_reservations_conversation
    ON ai_agent_turn_reservations (conversation_id);
CREATE INDEX IF NOT EXISTS ai_agent_turn_reservations_agent_day
    ON ai_agent_turn_reservations (agent_id, day);

-- The rate limiter's counter while Redis cannot be reached: one row per agent and channel,
-- moved to the current minute by the statement that counts. `redis_seen` is the highest
-- count Redis had given in that minute as far as the counting containers know, `counted`
-- what was counted here since; the minute's count is their sum.
CREATE TABLE IF NOT EXISTS ai_agent_rate_counters (
    workspace_id    uuid NOT NULL,
    agent_id        uuid NOT NULL,
    channel         text NOT NULL CHECK (channel IN ('playground', 'embed')),
    window_start    bigint NOT NULL,  -- minutes since the epoch: the Redis key's window
    redis_seen      integer NOT NULL DEFAULT 0 CHECK (redis_seen >= 0),
    counted         integer NOT NULL DEFAULT 0 CHECK (counted >= 0),
    PRIMARY KEY (agent_id, channel),
    FOREIGN KEY (workspace_id, agent_id) REFERENCES ai_agents (workspace_id, id) ON DELETE CASCADE
);

CREATE OR REPLACE FUNCTION rate_counter_moves_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.window_start < OLD.window_start OR (NEW.window_start = OLD.window_start AND
           (NEW.counted < OLD.counted OR NEW.redis_seen < OLD.redis_seen)) THEN
        RAISE EXCEPTION 'a rate counter only moves forward' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS rate_counter_moves_forward ON ai_agent_rate_counters;
CREATE TRIGGER rate_counter_moves_forward BEFORE UPDATE ON ai_agent_rate_counters
    FOR EACH ROW EXECUTE FUNCTION rate_counter_moves_forward();

-- Row-level security: the workspace scope for the app role; for the embed role, its own
-- agent. A public chat may read every in-flight reservation of its agent (the daily budget
-- is the agent's, playground included) but writes only its own channel's.
DO $$
DECLARE
    own_agent constant text :=
        '(SELECT a.id FROM ai_agents a WHERE a.public_token = current_public_token())';
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['ai_agent_turn_reservations', 'ai_agent_rate_counters'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('DROP POLICY IF EXISTS workspace_isolation ON %I', t);
        EXECUTE format('CREATE POLICY workspace_isolation ON %I TO convoship_app
                        USING (workspace_id = current_workspace_id())
                        WITH CHECK (workspace_id = current_workspace_id())', t);
        EXECUTE format('DROP POLICY IF EXISTS embed_select ON %I', t);
        EXECUTE format('DROP POLICY IF EXISTS embed_insert ON %I', t);
        EXECUTE format('DROP POLICY IF EXISTS embed_update ON %I', t);
        EXECUTE format('DROP POLICY IF EXISTS embed_delete ON %I', t);
        EXECUTE format('CREATE POLICY embed_insert ON %I FOR INSERT TO convoship_embed
                        WITH CHECK (channel = ''embed'' AND agent_id = %s)', t, own_agent);
    END LOOP;
    EXECUTE 'CREATE POLICY embed_select ON ai_agent_turn_reservations FOR SELECT
             TO convoship_embed USING (agent_id = ' || own_agent || ')';
    EXECUTE 'CREATE POLICY embed_delete ON ai_agent_turn_reservations FOR DELETE
             TO convoship_embed USING (channel = ''embed'' AND agent_id = ' || own_agent || ')';
    EXECUTE 'CREATE POLICY embed_select ON ai_agent_rate_counters FOR SELECT
             TO convoship_embed USING (channel = ''embed'' AND agent_id = ' || own_agent || ')';
    EXECUTE 'CREATE POLICY embed_update ON ai_agent_rate_counters FOR UPDATE
             TO convoship_embed USING (channel = ''embed'' AND agent_id = ' || own_agent || ')
             WITH CHECK (channel = ''embed'' AND agent_id = ' || own_agent || ')';
END $$;

-- Reserve one turn of a conversation and the tokens it may spend, or say which limit
-- refuses it: 'reserved', 'not-found' (no such conversation for this agent, channel and
-- visitor), 'turns', 'conversation-tokens' or 'day-tokens'. A NULL cap is no limit.
-- Concurrent reservations of one conversation queue on its row lock, those of one agent's
-- day on an advisory lock; each counts the live reservations the earlier ones committed.
-- A turn needs at least one token of room (an escalation reserves none but still needs
-- the budget not to be spent, as before).
CREATE OR REPLACE FUNCTION reserve_chat_turn(
    p_id uuid, p_workspace uuid, p_agent uuid, p_channel text, p_conversation uuid,
    p_existing boolean, p_visitor text, p_tokens bigint, p_max_turns integer,
    p_max_conversation_tokens bigint, p_max_day_tokens bigint, p_ttl_s integer
) RETURNS text LANGUAGE plpgsql AS $$
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

-- Settle a reservation in the transaction that writes its turn (after the conversation
-- row is locked). A reservation that lapsed was not counted by later reservations, so its
-- turn may no longer be written: the transaction fails as a serialization failure (503,
-- retry) and writes nothing.
CREATE OR REPLACE FUNCTION settle_chat_turn(p_id uuid) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM ai_agent_turn_reservations WHERE id = p_id AND expires_at > now();
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the turn outlived its reservation' USING ERRCODE = 'serialization_failure';
    END IF;
END $$;

REVOKE ALL ON FUNCTION reserve_chat_turn(uuid, uuid, uuid, text, uuid, boolean, text, bigint,
    integer, bigint, bigint, integer), settle_chat_turn(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION reserve_chat_turn(uuid, uuid, uuid, text, uuid, boolean, text, bigint,
    integer, bigint, bigint, integer), settle_chat_turn(uuid) TO convoship_app, convoship_embed;

GRANT SELECT, INSERT, DELETE ON ai_agent_turn_reservations TO convoship_app, convoship_embed;
GRANT SELECT, INSERT, UPDATE ON ai_agent_rate_counters TO convoship_app, convoship_embed;
