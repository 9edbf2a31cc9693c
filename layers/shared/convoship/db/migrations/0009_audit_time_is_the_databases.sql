-- Audit rows are stamped by the database: the chain trigger of migration 0007 sets
-- occurred_at to now() (the transaction's start, as the column's default), whatever the
-- writer sent. A row cannot be backdated into an earlier search window, nor dated in a
-- year Python cannot read (10000), which made every audit search over it fail.
-- Idempotent: CREATE OR REPLACE of the trigger's function; the trigger stays.
CREATE OR REPLACE FUNCTION audit_log_chain() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public AS $$
BEGIN
    NEW.occurred_at := now();  -- the database's clock, never the writer's
    NEW := audit_chain_append(NEW);  -- whatever seq/prev_hash/hash the writer sent is replaced
    RETURN NEW;
END $$;
