-- An embed turn's read leaves out the version documents the container already holds.
-- A published version never changes, and the container keeps the run context of the last
-- version it read behind each public token (chat/read_ahead.py): every later turn on it
-- read the same config, guardrails and tools again, and decoded them again, for nothing
-- (an agent's system prompt and tool schemas are its largest values).
-- chat_turn_published takes the agent and version the caller holds (both or neither): when
-- they are still the latest published version behind the token, `known` is true and
-- config, guardrails and tools are NULL; otherwise everything comes, as before. The agent's
-- name and slug, the workspace's agent ops and LLM settings and today's usage, which change
-- without a new version, are read every time.
-- The one-argument form it replaces is dropped: the defaults answer a call with the token
-- alone as before. SECURITY INVOKER, search_path pinned (pg_temp last, as 0011), generic
-- plan, as 0010. Idempotent.

DROP FUNCTION IF EXISTS chat_turn_published(text);

CREATE OR REPLACE FUNCTION chat_turn_published(
    p_token text, p_known_agent uuid DEFAULT NULL, p_known_version integer DEFAULT NULL
)
RETURNS TABLE (
    agent_id uuid, slug text, name text, workspace_id uuid, version integer,
    known boolean, config jsonb, guardrails jsonb, tools jsonb,
    has_ops boolean, rpm_cap_per_agent integer, eval_pass_threshold double precision,
    ops_updated_at timestamptz,
    has_llm boolean, provider text, model text, base_url text, api_key_ciphertext text,
    api_key_hint text, llm_updated_at timestamptz, api_key_data_key jsonb,
    tokens_today bigint
) LANGUAGE plpgsql STABLE SECURITY INVOKER
    SET search_path = pg_catalog, public, pg_temp SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT a.id, a.slug, a.name, a.workspace_id, v.version, v.known,
           CASE WHEN v.known THEN NULL ELSE v.config END,
           CASE WHEN v.known THEN NULL ELSE v.guardrails END,
           CASE WHEN v.known THEN NULL ELSE v.tools END,
           o.workspace_id IS NOT NULL, o.rpm_cap_per_agent, o.eval_pass_threshold,
           o.updated_at,
           l.workspace_id IS NOT NULL, l.provider, l.model, l.base_url, l.api_key_ciphertext,
           l.api_key_hint, l.updated_at,
           CASE WHEN l.data_key_version IS NOT NULL THEN (
               SELECT jsonb_build_object('workspace_id', k.workspace_id, 'version', k.version,
                                         'wrapped_key', k.wrapped_key,
                                         'master_key_id', k.master_key_id)
                 FROM workspace_data_keys k
                WHERE k.workspace_id = l.workspace_id AND k.version = l.data_key_version)
           END,
           u.tokens
      FROM ai_agents a
      JOIN LATERAL (SELECT lv.version, lv.config, lv.guardrails, lv.tools,
                           COALESCE(lv.agent_id = p_known_agent
                                    AND lv.version = p_known_version, false) AS known
                      FROM ai_agent_versions lv WHERE lv.agent_id = a.id
                     ORDER BY lv.version DESC LIMIT 1) v ON true
      LEFT JOIN workspace_agent_ops o ON o.workspace_id = a.workspace_id
      LEFT JOIN workspace_llm_settings l ON l.workspace_id = a.workspace_id
      LEFT JOIN ai_agent_usage_daily u
             ON u.agent_id = a.id AND u.day = (now() AT TIME ZONE 'utc')::date
     WHERE a.public_token = p_token;
END $$;

REVOKE ALL ON FUNCTION chat_turn_published(text, uuid, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION chat_turn_published(text, uuid, integer)
    TO convoship_app, convoship_embed;
