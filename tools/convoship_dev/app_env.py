"""The environment a handler runs with, built one way for the local stack, tests and bench."""

from __future__ import annotations

from convoship.core import constants as env


def app_environment(
    *,
    stage: str,
    secrets_key: str,
    jwt_secret: str,
    metrics_namespace: str,
    database_url: str | None = None,
    purge_database_url: str | None = None,
    keys_database_url: str | None = None,
    checkpoint_database_url: str | None = None,
    audit_dev_signing_key: str | None = None,
    redis_url: str | None = None,
    llm: tuple[str, str] | None = None,
    log_level: str | None = None,
) -> dict[str, str]:
    """Variables for the app's settings; `llm` is (base_url, model) of an OpenAI-compatible
    server used as the platform default model (the loopback test model, say)."""
    values = {
        env.STAGE: stage,
        env.SECRETS_KEY: secrets_key,
        env.JWT_SECRET: jwt_secret,
        env.METRICS_NAMESPACE: metrics_namespace,
    }
    optional = {
        env.DATABASE_URL: database_url,
        env.PURGE_DATABASE_URL: purge_database_url,
        env.KEYS_DATABASE_URL: keys_database_url,
        env.CHECKPOINT_DATABASE_URL: checkpoint_database_url,
        env.AUDIT_DEV_SIGNING_KEY: audit_dev_signing_key,
        env.REDIS_URL: redis_url,
        env.LOG_LEVEL: log_level,
    }
    values.update({name: value for name, value in optional.items() if value})
    if llm is not None:
        values[env.LLM_PROVIDER] = "openai_compatible"
        values[env.LLM_BASE_URL], values[env.LLM_MODEL] = llm
    return values
