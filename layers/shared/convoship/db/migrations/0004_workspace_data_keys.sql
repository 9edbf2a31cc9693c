-- Per-workspace data keys, wrapped by the master (Fernet keys or KMS), and what the key
-- custodian role (convoship_keys: `rotate-keys`, `workspace delete`) may do; the ledger of
-- data-key rotation runs and the system-level audit of crypto-shredding, outside any
-- workspace. The role itself is created with the others in convoship.db.migrate.

CREATE TABLE IF NOT EXISTS workspace_data_keys (
    workspace_id    uuid NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    version         integer NOT NULL CHECK (version >= 1),
    wrapped_key     text NOT NULL,
    master_key_id   text NOT NULL CHECK (master_key_id ~ '^(fernet|kms):'),
    rotation_run    uuid,  -- the `rotate-keys --data` run that made it (NULL: first write)
    created_at      timestamptz NOT NULL DEFAULT now(),
    rewrapped_at    timestamptz,
    PRIMARY KEY (workspace_id, version)
);

-- Which data key version a ciphertext names (`dk1:<version>:...`; NULL for the formats
-- before data keys). Derived, so it cannot disagree with the ciphertext; the foreign key
-- keeps every version a ciphertext names until no ciphertext names it.
ALTER TABLE workspace_secrets ADD COLUMN IF NOT EXISTS data_key_version integer
    GENERATED ALWAYS AS (substring(value_ciphertext FROM '^dk1:([0-9]{1,9}):')::integer) STORED;
ALTER TABLE workspace_llm_settings ADD COLUMN IF NOT EXISTS data_key_version integer
    GENERATED ALWAYS AS (substring(api_key_ciphertext FROM '^dk1:([0-9]{1,9}):')::integer) STORED;
CREATE INDEX IF NOT EXISTS workspace_secrets_data_key
    ON workspace_secrets (workspace_id, data_key_version);
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_constraint WHERE conname = 'workspace_secrets_data_key_fk') THEN
        ALTER TABLE workspace_secrets ADD CONSTRAINT workspace_secrets_data_key_fk
            FOREIGN KEY (workspace_id, data_key_version)
            REFERENCES workspace_data_keys (workspace_id, version);
    END IF;
    IF NOT EXISTS (SELECT FROM pg_constraint WHERE conname = 'workspace_llm_settings_data_key_fk') THEN
        ALTER TABLE workspace_llm_settings ADD CONSTRAINT workspace_llm_settings_data_key_fk
            FOREIGN KEY (workspace_id, data_key_version)
            REFERENCES workspace_data_keys (workspace_id, version);
    END IF;
END $$;

-- One row per `rotate-keys --data` run: an unfinished one is resumed, not restarted.
CREATE TABLE IF NOT EXISTS data_key_rotations (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id    uuid,  -- NULL: every workspace. No foreign key: the ledger outlives it.
    started_by      text NOT NULL,
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz
);

-- Operator actions that outlive the workspace they concern (crypto-shredding).
CREATE TABLE IF NOT EXISTS system_audit_log (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    occurred_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor_type      text NOT NULL CHECK (actor_type IN ('operator', 'system')),
    actor_id        text NOT NULL,
    action          text NOT NULL,
    resource_type   text NOT NULL,
    resource_id     text,
    details         jsonb
);
CREATE INDEX IF NOT EXISTS system_audit_log_recent ON system_audit_log (occurred_at DESC);

ALTER TABLE workspace_data_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE workspace_data_keys FORCE ROW LEVEL SECURITY;
ALTER TABLE data_key_rotations ENABLE ROW LEVEL SECURITY;
ALTER TABLE data_key_rotations FORCE ROW LEVEL SECURITY;
ALTER TABLE system_audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE system_audit_log FORCE ROW LEVEL SECURITY;

-- The app role reads its workspace's wrapped keys and makes the first one (version 1) on
-- the first write; it never changes or deletes one. The embed reads its agent's
-- workspace's keys (a public chat's tools open secrets).
DROP POLICY IF EXISTS workspace_isolation ON workspace_data_keys;
DROP POLICY IF EXISTS app_read_keys ON workspace_data_keys;
CREATE POLICY app_read_keys ON workspace_data_keys FOR SELECT TO convoship_app
    USING (workspace_id = current_workspace_id());
DROP POLICY IF EXISTS app_first_key ON workspace_data_keys;
CREATE POLICY app_first_key ON workspace_data_keys FOR INSERT TO convoship_app
    WITH CHECK (workspace_id = current_workspace_id() AND version = 1 AND rotation_run IS NULL);
DROP POLICY IF EXISTS embed_workspace_keys ON workspace_data_keys;
CREATE POLICY embed_workspace_keys ON workspace_data_keys FOR SELECT TO convoship_embed
    USING (workspace_id = (SELECT a.workspace_id FROM ai_agents a
                            WHERE a.public_token = current_public_token()));

-- The key custodian works one workspace per transaction (app.workspace_id), like a
-- request: a bug that forgets a WHERE clause still cannot cross tenants. Across
-- workspaces it sees only their ids.
DROP POLICY IF EXISTS keys_list ON workspaces;
CREATE POLICY keys_list ON workspaces FOR SELECT TO convoship_keys USING (true);
DROP POLICY IF EXISTS keys_shred ON workspaces;
CREATE POLICY keys_shred ON workspaces FOR DELETE TO convoship_keys
    USING (id = current_workspace_id());
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['workspace_data_keys', 'workspace_secrets', 'workspace_llm_settings']
    LOOP
        EXECUTE format('DROP POLICY IF EXISTS keys_custody ON %I', t);
        EXECUTE format('CREATE POLICY keys_custody ON %I FOR ALL TO convoship_keys
                        USING (workspace_id = current_workspace_id())
                        WITH CHECK (workspace_id = current_workspace_id())', t);
    END LOOP;
END $$;
DROP POLICY IF EXISTS keys_audit ON audit_log;
CREATE POLICY keys_audit ON audit_log FOR INSERT TO convoship_keys
    WITH CHECK (workspace_id = current_workspace_id() AND actor_type = 'system'
                AND action LIKE 'keys.%');
DROP POLICY IF EXISTS keys_runs ON data_key_rotations;
CREATE POLICY keys_runs ON data_key_rotations FOR ALL TO convoship_keys USING (true);
DROP POLICY IF EXISTS keys_system_audit ON system_audit_log;
CREATE POLICY keys_system_audit ON system_audit_log FOR INSERT TO convoship_keys
    WITH CHECK (true);

REVOKE ALL ON workspace_data_keys, data_key_rotations, system_audit_log
    FROM convoship_app, convoship_embed, convoship_purge, convoship_keys;
GRANT SELECT, INSERT ON workspace_data_keys TO convoship_app;
GRANT SELECT ON workspace_data_keys TO convoship_embed;
GRANT USAGE ON SCHEMA public TO convoship_keys;
GRANT SELECT (id), DELETE ON workspaces TO convoship_keys;
GRANT SELECT, INSERT, DELETE, UPDATE (wrapped_key, master_key_id, rewrapped_at)
    ON workspace_data_keys TO convoship_keys;
GRANT SELECT, UPDATE (value_ciphertext) ON workspace_secrets TO convoship_keys;
GRANT SELECT, UPDATE (api_key_ciphertext) ON workspace_llm_settings TO convoship_keys;
GRANT INSERT ON audit_log TO convoship_keys;
GRANT SELECT, INSERT, UPDATE (finished_at) ON data_key_rotations TO convoship_keys;
GRANT INSERT ON system_audit_log TO convoship_keys;
GRANT EXECUTE ON FUNCTION current_workspace_id() TO convoship_keys;
