-- Secrets go only where an admin allows: workspace_secrets.allowed_hosts.
-- Existing secrets get the hosts of the tools that use them today (each agent's draft tools
-- and the tools of its latest published version, which the embed serves), so an upgrade
-- breaks no tool; a secret no tool uses gets an empty list (it can still serve as an AUTH
-- visitor_token_secret). One audit_log row (actor system) per secret given a list.
-- Idempotent: only rows whose list is still NULL are filled, and only they are audited.
-- Hosts are taken as the URL spells them, lower-cased, without userinfo, port or trailing
-- dot; a host that holds a placeholder ({{...}}) or is not plain ASCII is left out, so a
-- tool whose host a model argument chooses keeps being refused at call time.

ALTER TABLE workspace_secrets ADD COLUMN IF NOT EXISTS allowed_hosts text[];

-- The table owner is subject to row-level security (FORCE): lift it for this transaction
-- only (the ALTERs hold their locks until COMMIT, which restores it).
ALTER TABLE workspace_secrets NO FORCE ROW LEVEL SECURITY;
ALTER TABLE ai_agents NO FORCE ROW LEVEL SECURITY;
ALTER TABLE ai_agent_tools NO FORCE ROW LEVEL SECURITY;
ALTER TABLE ai_agent_versions NO FORCE ROW LEVEL SECURITY;
ALTER TABLE audit_log NO FORCE ROW LEVEL SECURITY;

WITH used AS (  -- (workspace, secret, url) of every tool that runs today
    SELECT t.workspace_id, ref AS name, t.config->>'url' AS url
      FROM ai_agent_tools t, unnest(t.secret_refs) AS ref
    UNION
    SELECT v.workspace_id, ref, tool->>'url'
      FROM (SELECT DISTINCT ON (agent_id) workspace_id, tools FROM ai_agent_versions
             ORDER BY agent_id, version DESC) v,
           jsonb_array_elements(v.tools) AS frozen,
           LATERAL (SELECT frozen->'config' AS tool) c,
           jsonb_array_elements_text(COALESCE(frozen->'secret_refs', '[]')) AS ref
), authority AS (
    SELECT workspace_id, name,
           substring(url FROM '^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)') AS netloc
      FROM used
), hosts AS (
    SELECT workspace_id, name,
           rtrim(lower(regexp_replace(regexp_replace(netloc, '^.*@', ''),
                                      '(^\[|\](:[0-9]*)?$|:[0-9]*$)', '', 'g')), '.') AS host
      FROM authority
     WHERE netloc IS NOT NULL AND netloc !~ '[{}]'
), per_secret AS (
    SELECT s.workspace_id, s.name,
           COALESCE((SELECT array_agg(DISTINCT h.host ORDER BY h.host) FROM hosts h
                      WHERE h.workspace_id = s.workspace_id AND h.name = s.name
                        AND h.host ~ '^[a-z0-9_.:-]+$' AND h.host <> ''), '{}') AS allowed
      FROM workspace_secrets s
     WHERE s.allowed_hosts IS NULL
), filled AS (
    UPDATE workspace_secrets s SET allowed_hosts = p.allowed
      FROM per_secret p
     WHERE s.workspace_id = p.workspace_id AND s.name = p.name AND s.allowed_hosts IS NULL
    RETURNING s.workspace_id, s.name, s.allowed_hosts
)
INSERT INTO audit_log (workspace_id, actor_type, actor_id, action, resource_type,
                       resource_id, before_state, after_state)
SELECT workspace_id, 'system', 'migration:0005_secret_allowed_hosts',
       'secret.allowed_hosts_updated', 'secret', name,
       jsonb_build_object('name', name, 'allowed_hosts', NULL),
       jsonb_build_object('name', name, 'allowed_hosts', to_jsonb(allowed_hosts))
  FROM filled;

ALTER TABLE workspace_secrets ALTER COLUMN allowed_hosts SET DEFAULT '{}';
ALTER TABLE workspace_secrets ALTER COLUMN allowed_hosts SET NOT NULL;

ALTER TABLE workspace_secrets FORCE ROW LEVEL SECURITY;
ALTER TABLE ai_agents FORCE ROW LEVEL SECURITY;
ALTER TABLE ai_agent_tools FORCE ROW LEVEL SECURITY;
ALTER TABLE ai_agent_versions FORCE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
