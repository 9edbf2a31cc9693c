-- The audit trail, complete and tamper-evident.
--
-- 1. Complete rows: audit_log rows of agent actions carry agent_id and agent_slug (the slug at
--    the time), so a deleted agent's history stays searchable; both feeds say
--    resource_type/resource_id.
-- 2. One SHA-256 hash chain per workspace: every audit_log row gets a gapless seq, the hash of
--    the row before (prev_hash) and its own hash over a canonical encoding
--    (audit_canonical below; the same encoding in Python: convoship/audit/chain.py). A BEFORE
--    INSERT trigger extends the chain, so the row is chained in the transaction of the change
--    and costs no extra round trip. The workspace's chain head row (audit_chain_heads) is
--    locked by the UPDATE that takes the next seq: concurrent writers queue there until the
--    holder commits or rolls back (a rollback takes its seq back: no gap).
-- 3. Signed checkpoints (audit_checkpoints): a daily step, as convoship_checkpoint, signs each
--    changed chain head (KMS), so deleting the newest rows is detectable too.

-- 1. Complete rows and one vocabulary ------------------------------------------------------
DO $$
BEGIN
    IF EXISTS (SELECT FROM information_schema.columns WHERE table_schema = 'public'
               AND table_name = 'ai_agent_audit_events' AND column_name = 'target_type') THEN
        ALTER TABLE ai_agent_audit_events RENAME COLUMN target_type TO resource_type;
        ALTER TABLE ai_agent_audit_events RENAME COLUMN target_id TO resource_id;
    END IF;
END $$;

ALTER TABLE audit_log
    ADD COLUMN IF NOT EXISTS agent_id   uuid,
    ADD COLUMN IF NOT EXISTS agent_slug text,
    ADD COLUMN IF NOT EXISTS seq        bigint,
    ADD COLUMN IF NOT EXISTS prev_hash  text,
    ADD COLUMN IF NOT EXISTS hash       text;

-- Rows written before this migration: an agent action's two rows were inserted by the same
-- transaction (same xmin) with the same action and resource. The owner, which runs this,
-- is subject to row-level security (FORCE) without a policy of its own: lifted for the
-- backfills of this transaction only, forced again below.
ALTER TABLE audit_log NO FORCE ROW LEVEL SECURITY;
ALTER TABLE ai_agent_audit_events NO FORCE ROW LEVEL SECURITY;
UPDATE audit_log l SET agent_id = e.agent_id, agent_slug = e.agent_slug
  FROM ai_agent_audit_events e
 WHERE l.agent_id IS NULL AND l.seq IS NULL
   AND e.workspace_id = l.workspace_id AND e.xmin = l.xmin
   AND e.action = l.action AND e.resource_type = l.resource_type
   AND e.resource_id IS NOT DISTINCT FROM l.resource_id;

CREATE INDEX IF NOT EXISTS audit_log_by_agent
    ON audit_log (workspace_id, agent_id, occurred_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS audit_log_by_agent_slug
    ON audit_log (workspace_id, agent_slug, occurred_at DESC, id DESC);

-- 2. The hash chain ------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS audit_chain_heads (
    workspace_id    uuid PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
    seq             bigint NOT NULL DEFAULT 0 CHECK (seq >= 0),
    hash            text NOT NULL,
    prev_hash       text,  -- the hash before the last move (what the newest row links to)
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- The canonical encoding, version 1: a JSON array with no whitespace between its elements:
--   ["convoship-audit-v1", workspace_id, seq, occurred_at, actor_type, actor_id, action,
--    resource_type, resource_id, agent_id, agent_slug, request_id, before_state,
--    after_state, prev_hash]
-- seq a JSON integer; occurred_at "YYYY-MM-DDTHH:MM:SS.ffffffZ" (UTC, microseconds); ids
-- lowercase UUID strings; text as JSON strings (", \ and U+0000..U+001F escaped, everything
-- else as is, UTF-8); the states as PostgreSQL's jsonb text; SQL NULL as null.
-- hash = lowercase hex SHA-256 of the UTF-8 bytes; prev_hash of seq 1 is 64 zeros.
CREATE OR REPLACE FUNCTION audit_canonical(r audit_log) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, public
    RETURN '["convoship-audit-v1",'
        || to_json(r.workspace_id::text)::text || ','
        || COALESCE(r.seq::text, 'null') || ','
        || to_json(to_char(r.occurred_at AT TIME ZONE 'UTC',
                           'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))::text || ','
        || COALESCE(to_json(r.actor_type)::text, 'null') || ','
        || COALESCE(to_json(r.actor_id)::text, 'null') || ','
        || COALESCE(to_json(r.action)::text, 'null') || ','
        || COALESCE(to_json(r.resource_type)::text, 'null') || ','
        || COALESCE(to_json(r.resource_id)::text, 'null') || ','
        || COALESCE(to_json(r.agent_id::text)::text, 'null') || ','
        || COALESCE(to_json(r.agent_slug)::text, 'null') || ','
        || COALESCE(to_json(r.request_id)::text, 'null') || ','
        || COALESCE(r.before_state::text, 'null') || ','
        || COALESCE(r.after_state::text, 'null') || ','
        || COALESCE(to_json(r.prev_hash)::text, 'null') || ']';

-- The hash of r as it would be linked at seq after prev_hash.
CREATE OR REPLACE FUNCTION audit_link_hash(r audit_log, at_seq bigint, after_hash text)
    RETURNS text LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, public AS $$
BEGIN
    r.seq := at_seq;
    r.prev_hash := after_hash;
    RETURN encode(sha256(convert_to(audit_canonical(r), 'UTF8')), 'hex');
END $$;

-- Link r after its workspace's head: seq, prev_hash, hash set and the head moved by one
-- UPDATE (its SET reads the head as it was), which locks the head until the transaction
-- ends. Runs as the owner: callers need no grant on the heads.
CREATE OR REPLACE FUNCTION audit_chain_append(r audit_log) RETURNS audit_log
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public AS $$
BEGIN
    FOR attempt IN 1..2 LOOP
        UPDATE audit_chain_heads h
           SET seq = h.seq + 1, prev_hash = h.hash,
               hash = audit_link_hash(r, h.seq + 1, h.hash), updated_at = now()
         WHERE h.workspace_id = r.workspace_id
        RETURNING h.seq, h.prev_hash, h.hash INTO r.seq, r.prev_hash, r.hash;
        IF FOUND THEN
            RETURN r;
        END IF;
        INSERT INTO audit_chain_heads (workspace_id, seq, hash)
        VALUES (r.workspace_id, 0, repeat('0', 64)) ON CONFLICT (workspace_id) DO NOTHING;
    END LOOP;
    RAISE EXCEPTION 'audit chain head of workspace % could not be moved', r.workspace_id;
END $$;
REVOKE ALL ON FUNCTION audit_chain_append(audit_log) FROM PUBLIC;

CREATE OR REPLACE FUNCTION audit_log_chain() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public AS $$
BEGIN
    NEW := audit_chain_append(NEW);  -- whatever seq/prev_hash/hash the writer sent is replaced
    RETURN NEW;
END $$;

-- Rows written before this migration join the chain in their order of occurrence (the
-- links kept in variables, each head written once: moving a head row once per row inside
-- one transaction would cost quadratic time on a long log).
DO $$
DECLARE
    r audit_log;
    ws uuid;
    n bigint;
    prev text;
    before text;
BEGIN
    FOR r IN SELECT * FROM audit_log WHERE seq IS NULL ORDER BY workspace_id, occurred_at, id LOOP
        IF ws IS DISTINCT FROM r.workspace_id THEN
            IF ws IS NOT NULL THEN
                INSERT INTO audit_chain_heads (workspace_id, seq, hash, prev_hash)
                VALUES (ws, n, prev, before) ON CONFLICT (workspace_id) DO UPDATE
                    SET seq = EXCLUDED.seq, hash = EXCLUDED.hash, prev_hash = EXCLUDED.prev_hash;
            END IF;
            ws := r.workspace_id;
            SELECT h.seq, h.hash INTO n, prev FROM audit_chain_heads h WHERE h.workspace_id = ws;
            IF NOT FOUND THEN
                n := 0;
                prev := repeat('0', 64);
            END IF;
        END IF;
        n := n + 1;
        before := prev;
        prev := audit_link_hash(r, n, before);
        UPDATE audit_log SET seq = n, prev_hash = before, hash = prev WHERE id = r.id;
    END LOOP;
    IF ws IS NOT NULL THEN
        INSERT INTO audit_chain_heads (workspace_id, seq, hash, prev_hash)
        VALUES (ws, n, prev, before) ON CONFLICT (workspace_id) DO UPDATE
            SET seq = EXCLUDED.seq, hash = EXCLUDED.hash, prev_hash = EXCLUDED.prev_hash;
    END IF;
END $$;

ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
ALTER TABLE ai_agent_audit_events FORCE ROW LEVEL SECURITY;

ALTER TABLE audit_log
    ALTER COLUMN seq SET NOT NULL,
    ALTER COLUMN prev_hash SET NOT NULL,
    ALTER COLUMN hash SET NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS audit_log_chain ON audit_log (workspace_id, seq);

DROP TRIGGER IF EXISTS audit_log_chain ON audit_log;
CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_chain();

-- 3. Signed checkpoints --------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS audit_checkpoints (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id    uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    seq             bigint NOT NULL CHECK (seq >= 1),
    hash            text NOT NULL,
    signed_at       timestamptz NOT NULL,
    algorithm       text NOT NULL,  -- ECDSA_SHA_256 (KMS) | HMAC_SHA_256_DEV (development only)
    key_id          text NOT NULL,
    signature       text NOT NULL,  -- base64
    UNIQUE (workspace_id, seq)
);

-- Row-level security: the app reads its own workspace's heads and checkpoints and writes
-- neither; the owner (the chain function) moves heads; the checkpoint role reads heads and
-- the seq/hash columns of audit_log in every workspace and inserts checkpoints.
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['audit_chain_heads', 'audit_checkpoints'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('DROP POLICY IF EXISTS workspace_isolation ON %I', t);
        EXECUTE format('CREATE POLICY workspace_isolation ON %I TO convoship_app
                        USING (workspace_id = current_workspace_id())
                        WITH CHECK (workspace_id = current_workspace_id())', t);
        EXECUTE format('DROP POLICY IF EXISTS checkpoint_read ON %I', t);
        EXECUTE format('CREATE POLICY checkpoint_read ON %I FOR SELECT TO convoship_checkpoint
                        USING (true)', t);
    END LOOP;
END $$;
DROP POLICY IF EXISTS chain_writer ON audit_chain_heads;
CREATE POLICY chain_writer ON audit_chain_heads TO convoship_owner USING (true) WITH CHECK (true);
DROP POLICY IF EXISTS checkpoint_insert ON audit_checkpoints;
CREATE POLICY checkpoint_insert ON audit_checkpoints FOR INSERT TO convoship_checkpoint
    WITH CHECK (true);
DROP POLICY IF EXISTS checkpoint_read ON audit_log;
CREATE POLICY checkpoint_read ON audit_log FOR SELECT TO convoship_checkpoint USING (true);

REVOKE ALL ON audit_chain_heads, audit_checkpoints FROM convoship_app, convoship_purge,
    convoship_embed, convoship_checkpoint;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM convoship_checkpoint;
GRANT USAGE ON SCHEMA public TO convoship_checkpoint;
GRANT SELECT ON audit_chain_heads, audit_checkpoints TO convoship_app;
GRANT SELECT ON audit_chain_heads TO convoship_checkpoint;
GRANT SELECT, INSERT ON audit_checkpoints TO convoship_checkpoint;
GRANT SELECT (workspace_id, seq, hash) ON audit_log TO convoship_checkpoint;
