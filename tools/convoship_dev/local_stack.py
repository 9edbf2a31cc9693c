"""The laptop stack: database, Redis, secrets and a model for `convoship serve` and `invoke`.

DATABASE_URL / REDIS_URL win when set (DATABASE_ADMIN_URL too, for migrations and
`workspace create`); otherwise embedded servers run under .local/ and keep their data
between runs. Generated keys live in .local/dev-secrets.json (git-ignored).
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from dataclasses import dataclass, field
from typing import Any

from cryptography.fernet import Fernet

from convoship.core import constants as env
from convoship.core.settings import reset_settings
from convoship_dev import services
from convoship_dev.app_env import app_environment

DEV_DBNAME = "convoship"
# Public on purpose and only for the loopback-bound local runner: the events/ files carry a
# token signed with it, so `convoship invoke` works with them as they are.
DEV_JWT_SECRET = "convoship-local-development-only-jwt-secret-0000"  # noqa: S105


DEV_LLM_MODEL = "convoship-dev-echo"


@dataclass
class LocalStack:
    admin_url: str | None
    environ: dict[str, str]
    _stoppers: list[Any] = field(default_factory=list)

    def stop(self) -> None:
        while self._stoppers:
            self._stoppers.pop()()


def _dev_secrets() -> dict[str, str]:
    path = services.LOCAL_DIR / "dev-secrets.json"
    values: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    if env.SECRETS_KEY in values and env.AUDIT_DEV_SIGNING_KEY in values:
        return values
    path.parent.mkdir(parents=True, exist_ok=True)
    values.setdefault(env.SECRETS_KEY, Fernet.generate_key().decode())
    # Signs audit checkpoints where there is no KMS (development only; see audit/signing.py).
    values.setdefault(env.AUDIT_DEV_SIGNING_KEY, secrets.token_urlsafe(32))
    path.write_text(json.dumps(values, indent=2))
    path.chmod(0o600)
    return values


def say(message: str) -> None:
    """A progress line on stderr (stdout carries commands' results)."""
    print(f"convoship: {message}", file=sys.stderr, flush=True)


def start_local_stack(*, with_redis: bool = True) -> LocalStack:
    """Start what is missing, migrate, and export the app's environment into os.environ."""
    stack = LocalStack(admin_url=os.environ.get(env.DATABASE_ADMIN_URL), environ={})
    database_url = os.environ.get(env.DATABASE_URL)
    purge_url = os.environ.get(env.PURGE_DATABASE_URL)
    keys_url = os.environ.get(env.KEYS_DATABASE_URL)
    checkpoint_url = os.environ.get(env.CHECKPOINT_DATABASE_URL)
    if database_url:
        if stack.admin_url:
            from convoship.db.migrate import migrate

            migrate(stack.admin_url)
    else:
        database = services.provision_database(
            server_admin_url=None,
            dbname=DEV_DBNAME,
            data_dir=services.LOCAL_DIR / "pg",
            fresh=False,
            progress=say,
        )
        stack._stoppers.append(database.stop)
        stack.admin_url = database.owner_admin_url
        database_url, purge_url = database.app_url, database.purge_url
        keys_url = database.keys_url
        checkpoint_url = database.checkpoint_url
    redis_url = os.environ.get(env.REDIS_URL)
    if not redis_url and with_redis:
        redis = services.start_redis(services.LOCAL_DIR / "redis")
        stack._stoppers.append(redis.stop)
        redis_url = redis.url
    llm = None
    if not os.environ.get(env.LLM_PROVIDER):
        # No model configured: answer with the offline echo model, so chat and publish work
        # on a laptop with no keys. A real one: set CONVOSHIP_LLM_* or the workspace's BYOK.
        from convoship_dev.fake_llm import FakeLlm

        server = FakeLlm().start()
        stack._stoppers.append(server.stop)
        llm = (server.base_url, DEV_LLM_MODEL)
    stack.environ = app_environment(
        stage=os.environ.get(env.STAGE, "development"),
        secrets_key=os.environ.get(env.SECRETS_KEY) or _dev_secrets()[env.SECRETS_KEY],
        jwt_secret=os.environ.get(env.JWT_SECRET) or DEV_JWT_SECRET,
        metrics_namespace=os.environ.get(env.METRICS_NAMESPACE, "ConvoShipLocal"),
        database_url=database_url,
        purge_database_url=purge_url,
        keys_database_url=keys_url,
        checkpoint_database_url=checkpoint_url,
        audit_dev_signing_key=os.environ.get(env.AUDIT_DEV_SIGNING_KEY)
        or _dev_secrets()[env.AUDIT_DEV_SIGNING_KEY],
        redis_url=redis_url,
        llm=llm,
    )
    if stack.admin_url and not os.environ.get(env.DATABASE_ADMIN_URL):
        stack.environ[env.DATABASE_ADMIN_URL] = stack.admin_url  # the migrate function's
    os.environ.update(stack.environ)
    reset_settings()
    return stack


def ensure_demo_workspace(admin_url: str) -> str:
    """The demo workspace and the rows the events/ files name (see demo_seed)."""
    from convoship_dev.demo_seed import seed_demo

    return seed_demo(admin_url)


def create_workspace(admin_url: str, name: str) -> str:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        row = conn.execute(
            "INSERT INTO workspaces (name) VALUES (%s) RETURNING id", (name,)
        ).fetchone()
    assert row is not None
    return str(row[0])


def make_token(
    workspace_id: str, role: str, sub: str, ttl_s: int, secret: str | None = None
) -> str:
    import time

    import jwt

    signing = (secret or os.environ.get(env.JWT_SECRET) or DEV_JWT_SECRET).split(",")[0].strip()
    claims = {"sub": sub, "wid": workspace_id, "role": role, "exp": int(time.time()) + ttl_s}
    return jwt.encode(claims, signing, algorithm="HS256")
