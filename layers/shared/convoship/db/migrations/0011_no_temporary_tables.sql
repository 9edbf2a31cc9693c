-- Every function that pins its search_path lists pg_temp last. Where pg_temp is not named,
-- PostgreSQL searches it first for tables, so a temporary table called `ai_agents` would
-- stand in for the real one. (No request role can create one: migrate() revokes TEMPORARY
-- on the database from PUBLIC; this is the second wall.) A migration that recreates one of
-- these functions must pin `pg_catalog, public, pg_temp` too (tests/integration/test_rls.py
-- holds it). Idempotent.

DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
              WHERE p.pronamespace = 'public'::regnamespace
                AND 'search_path=pg_catalog, public' = ANY (p.proconfig)
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = pg_catalog, public, pg_temp', f);
    END LOOP;
END $$;
