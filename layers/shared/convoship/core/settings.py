"""Settings, read once per container from the environment (and Secrets Manager in Lambda).

Validated when first read: an unsafe or malformed value fails with a message naming the
variable, before any request is served with it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from convoship.core import constants as env
from convoship.core.errors import ConfigurationError

LLM_PROVIDERS = ("openai", "openai_compatible", "anthropic", "bedrock")
# The chat function's timeout (template.yaml's ChatFunction Timeout: a test holds them equal).
CHAT_FUNCTION_TIMEOUT_S = 30
# What a turn needs once its deadline passed: the final write and settle (or the charge of a
# failed turn), and the part of a second a Bedrock call may run on (its read timeout is in
# whole seconds: llm/bedrock.py).
TURN_WRAP_UP_S = 4
MAX_CHAT_TURN_DEADLINE_S = CHAT_FUNCTION_TIMEOUT_S - TURN_WRAP_UP_S


@dataclass(frozen=True)
class PlatformLlm:
    """The deployment's default model, for workspaces that configured none."""

    provider: str
    model: str | None
    base_url: str | None
    api_key: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Settings:
    stage: str
    database_url: str | None
    redis_url: str | None
    secrets_keys: tuple[str, ...]
    kms_key_id: str | None
    allow_private_network: bool
    draft_retention_days: int
    db_connect_timeout_s: int
    db_statement_timeout_ms: int
    kms_cache_ttl_s: int
    llm_default: PlatformLlm | None = None
    purge_database_url: str | None = field(default=None, repr=False)
    keys_database_url: str | None = field(default=None, repr=False)
    checkpoint_database_url: str | None = field(default=None, repr=False)
    audit_signing_key_id: str | None = None
    audit_dev_signing_key: str | None = field(default=None, repr=False)
    llm_timeout_s: int = 25
    chat_turn_deadline_s: int = 25
    eval_concurrency: int = 20

    @property
    def is_development(self) -> bool:
        return self.stage in ("development", "test")

    def require_database_url(self) -> str:
        if not self.database_url:
            raise ConfigurationError(
                f"{env.DATABASE_URL} (or {env.DATABASE_SECRET_ARN}) is not set: "
                "the app cannot reach its database"
            )
        return self.database_url


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _int(values: dict[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = values.get(name)
    if raw is None or raw == "":
        return default
    try:
        number = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be an integer, got {raw!r}") from None
    if not lo <= number <= hi:
        raise ConfigurationError(f"{name} must be between {lo} and {hi}, got {number}")
    return number


def secret_json(arn: str) -> dict[str, Any]:
    from aws_lambda_powertools.utilities import parameters  # lazy: only deployed paths need it

    value = parameters.get_secret(arn, transform="json", max_age=300)
    if not isinstance(value, dict):
        raise ConfigurationError(f"secret {arn} must hold a JSON object")
    return value


def database_url_from_secret(secret: dict[str, Any], host: str | None = None) -> str:
    from psycopg.conninfo import make_conninfo

    host = host or secret.get("host")
    if not host:
        raise ConfigurationError(
            f"the database secret names no host: set {env.DATABASE_HOST} (e.g. the proxy endpoint)"
        )
    return make_conninfo(
        host=host,
        port=str(secret.get("port", 5432)),
        dbname=secret.get("dbname") or secret.get("database") or "convoship",
        user=secret["username"],
        password=secret["password"],
        sslmode=secret.get("sslmode", "require"),
    )


def _validate_fernet_keys(keys: tuple[str, ...]) -> None:
    import base64
    import binascii

    for position, key in enumerate(keys, start=1):
        try:
            ok = len(base64.urlsafe_b64decode(key.encode())) == 32
        except (binascii.Error, ValueError):
            ok = False
        if not ok:
            raise ConfigurationError(
                f"{env.SECRETS_KEY}: key #{position} is not a Fernet key (32 url-safe base64 "
                "bytes); make one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'"
            )


def _platform_llm(values: dict[str, str]) -> PlatformLlm | None:
    provider = (values.get(env.LLM_PROVIDER) or "").strip() or None
    if provider is None:
        return None
    if provider not in LLM_PROVIDERS:
        raise ConfigurationError(f"{env.LLM_PROVIDER} must be one of {', '.join(LLM_PROVIDERS)}")
    base_url = values.get(env.LLM_BASE_URL) or None
    if provider == "openai_compatible" and not base_url:
        raise ConfigurationError(f"{env.LLM_PROVIDER}=openai_compatible needs {env.LLM_BASE_URL}")
    return PlatformLlm(
        provider=provider,
        model=values.get(env.LLM_MODEL) or None,
        base_url=base_url,
        api_key=values.get(env.LLM_API_KEY) or None,
    )


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    values = dict(os.environ if environ is None else environ)
    if values.get(env.APP_SECRET_ARN):
        for name, value in secret_json(values[env.APP_SECRET_ARN]).items():
            values.setdefault(name, str(value))
    for url_name, arn_name in (
        (env.DATABASE_URL, env.DATABASE_SECRET_ARN),
        (env.PURGE_DATABASE_URL, env.PURGE_DATABASE_SECRET_ARN),
        (env.KEYS_DATABASE_URL, env.KEYS_DATABASE_SECRET_ARN),
        (env.CHECKPOINT_DATABASE_URL, env.CHECKPOINT_DATABASE_SECRET_ARN),
    ):
        if not values.get(url_name) and values.get(arn_name):
            values[url_name] = database_url_from_secret(
                secret_json(values[arn_name]), values.get(env.DATABASE_HOST)
            )

    stage = values.get(env.STAGE, "production")
    if stage not in env.STAGES:
        raise ConfigurationError(f"{env.STAGE} must be one of {', '.join(env.STAGES)}")
    keys = tuple(k.strip() for k in values.get(env.SECRETS_KEY, "").split(",") if k.strip())
    _validate_fernet_keys(keys)
    kms_key_id = values.get(env.KMS_KEY_ID) or None
    if not keys and not kms_key_id:
        raise ConfigurationError(
            f"set {env.SECRETS_KEY} (Fernet keys) or {env.KMS_KEY_ID}: secrets and BYOK keys "
            "are only ever stored encrypted"
        )
    allow_private = _flag(values.get(env.ALLOW_PRIVATE_NETWORK))
    dev_signing_key = values.get(env.AUDIT_DEV_SIGNING_KEY) or None
    if dev_signing_key and stage == "production":
        raise ConfigurationError(
            f"{env.AUDIT_DEV_SIGNING_KEY} is for development only: in production audit "
            f"checkpoints are signed with KMS ({env.AUDIT_SIGNING_KEY_ID})"
        )
    return Settings(
        stage=stage,
        database_url=values.get(env.DATABASE_URL) or None,
        redis_url=values.get(env.REDIS_URL) or None,
        secrets_keys=keys,
        kms_key_id=kms_key_id,
        allow_private_network=allow_private,
        draft_retention_days=_int(values, env.DRAFT_RETENTION_DAYS, 30, 1, 3650),
        db_connect_timeout_s=_int(values, env.DB_CONNECT_TIMEOUT_S, 3, 1, 60),
        db_statement_timeout_ms=_int(values, env.DB_STATEMENT_TIMEOUT_MS, 10_000, 100, 900_000),
        kms_cache_ttl_s=_int(values, env.KMS_CACHE_TTL_S, 300, 0, 3600),
        llm_default=_platform_llm(values),
        purge_database_url=values.get(env.PURGE_DATABASE_URL) or None,
        keys_database_url=values.get(env.KEYS_DATABASE_URL) or None,
        checkpoint_database_url=values.get(env.CHECKPOINT_DATABASE_URL) or None,
        audit_signing_key_id=values.get(env.AUDIT_SIGNING_KEY_ID) or None,
        audit_dev_signing_key=dev_signing_key,
        llm_timeout_s=_int(values, env.LLM_TIMEOUT_S, 25, 1, 600),
        chat_turn_deadline_s=_int(
            values, env.CHAT_TURN_DEADLINE_S, 25, 1, MAX_CHAT_TURN_DEADLINE_S
        ),
        eval_concurrency=_int(values, env.EVAL_CONCURRENCY, 20, 1, 64),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()


def reset_settings() -> None:
    """Forget the cached settings (tests change the environment between cases)."""
    get_settings.cache_clear()
