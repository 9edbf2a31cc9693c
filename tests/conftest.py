"""Session fixtures: a real PostgreSQL (fresh database, RLS on) and a real Redis.

Without TEST_DATABASE_URL / TEST_REDIS_URL both are started from PyPI wheels under
.local/ and stopped when the session ends. TEST_DATABASE_URL must name a role that can
create databases and roles; the code under test always connects as convoship_app.
"""

from __future__ import annotations

import os
import secrets
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from convoship.chat import read_ahead
from convoship.core import constants as env
from convoship.core.settings import reset_settings
from convoship.db.connection import close_all
from convoship.security import crypto
from convoship_dev import services
from convoship_dev.app_env import app_environment
from tests.support.tokens import AUDIT_DEV_SIGNING_KEY, JWT_SECRET, SECRETS_KEY, make_token

# The published agent of the embed turn tests (editor, admin, public, round_trips).
pytest_plugins = ["tests.support.published_agent"]

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def database() -> Iterator[services.Database]:
    run_id = f"{os.getpid()}_{secrets.token_hex(3)}"
    database = services.provision_database(
        server_admin_url=os.environ.get(env.TEST_DATABASE_URL),
        dbname=f"convoship_test_{run_id}",
        data_dir=services.LOCAL_DIR / f"test-pg-{run_id}",
        fresh=True,
        app_password=secrets.token_urlsafe(24) if os.environ.get(env.TEST_DATABASE_URL) else None,
    )
    yield database
    close_all()
    database.stop()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    given = os.environ.get(env.TEST_REDIS_URL)
    if given:
        yield given
        return
    work_dir = services.LOCAL_DIR / f"test-redis-{os.getpid()}"
    server = services.start_redis(work_dir)
    yield server.url
    server.stop()
    shutil.rmtree(work_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def base_env(database: services.Database, redis_url: str) -> dict[str, str]:
    return app_environment(
        stage="test",
        secrets_key=SECRETS_KEY,
        jwt_secret=JWT_SECRET,
        metrics_namespace="ConvoShipTest",
        database_url=database.app_url,
        purge_database_url=database.purge_url,
        keys_database_url=database.keys_url,
        checkpoint_database_url=database.checkpoint_url,
        audit_dev_signing_key=AUDIT_DEV_SIGNING_KEY,
        redis_url=redis_url,
        log_level="WARNING",
    )


def _needs_services(request: pytest.FixtureRequest) -> bool:
    return "/tests/unit/" not in str(request.node.path).replace(os.sep, "/")


@pytest.fixture(autouse=True)
def app_env(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test sees the project environment, fresh settings and crypto caches, and no
    kept published versions (chat/read_ahead.py).
    Unit tests get no database or Redis; the others get the session's real servers."""
    values: dict[str, str] = {
        env.STAGE: "test",
        env.SECRETS_KEY: SECRETS_KEY,
        env.JWT_SECRET: JWT_SECRET,
    }
    if _needs_services(request):
        values = request.getfixturevalue("base_env")
    for name in (
        env.KMS_KEY_ID,
        env.APP_SECRET_ARN,
        env.DATABASE_SECRET_ARN,
        env.DATABASE_HOST,
        env.DATABASE_ADMIN_URL,
        env.DATABASE_ADMIN_SECRET_ARN,
        env.PURGE_DATABASE_SECRET_ARN,
        env.RELEASE,
        env.ALLOW_PRIVATE_NETWORK,
        env.DATABASE_URL,
        env.REDIS_URL,
        env.PURGE_DATABASE_URL,
        env.KEYS_DATABASE_URL,
        env.CHECKPOINT_DATABASE_URL,
        env.AUDIT_SIGNING_KEY_ID,
        env.AUDIT_DEV_SIGNING_KEY,
        env.LLM_PROVIDER,
        env.LLM_MODEL,
        env.LLM_BASE_URL,
        env.LLM_API_KEY,
        env.LLM_TIMEOUT_S,
        env.EVAL_CONCURRENCY,
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    crypto.clear_caches()
    read_ahead.reset()  # a new container: no published version read yet
    yield
    reset_settings()
    crypto.clear_caches()
    read_ahead.reset()


@pytest.fixture
def owner_sql(database: services.Database) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    """Administrative connection for fixtures (creating workspaces, counting every row).
    Never used to exercise the code under test."""
    with psycopg.connect(database.owner_admin_url, autocommit=True, row_factory=dict_row) as conn:
        yield conn


@pytest.fixture
def app_sql(database: services.Database) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    """A raw connection as the app role, for RLS tests on plain SQL."""
    with psycopg.connect(database.app_url, row_factory=dict_row) as conn:
        yield conn


@pytest.fixture
def make_workspace(owner_sql: psycopg.Connection[dict[str, Any]]) -> Callable[..., uuid.UUID]:
    def make(name: str = "Test workspace") -> uuid.UUID:
        row = owner_sql.execute(
            "INSERT INTO workspaces (name) VALUES (%s) RETURNING id", (name,)
        ).fetchone()
        assert row is not None
        return uuid.UUID(str(row["id"]))

    return make


@pytest.fixture
def workspace(make_workspace: Callable[..., uuid.UUID]) -> uuid.UUID:
    return make_workspace("Workspace A")


@pytest.fixture
def other_workspace(make_workspace: Callable[..., uuid.UUID]) -> uuid.UUID:
    return make_workspace("Workspace B")


@pytest.fixture
def token() -> Callable[..., str]:
    return make_token


@pytest.fixture(scope="session")
def api_gateway() -> Any:
    from tests.support.api_client import ApiClient

    return ApiClient()


@pytest.fixture
def api(api_gateway: Any, base_env: dict[str, str]) -> Any:
    """The whole HTTP API in-process, through the template-driven gateway emulation."""
    return api_gateway


@pytest.fixture(scope="session")
def fake_llm_server() -> Iterator[Any]:
    from convoship_dev.fake_llm import FakeLlm

    with FakeLlm() as server:
        yield server


@pytest.fixture
def fake_llm(fake_llm_server: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The loopback test model, configured as the platform default (no BYOK)."""
    fake_llm_server.reset()
    fake_llm_server.delay_s = 0.0
    monkeypatch.setenv(env.LLM_PROVIDER, "openai_compatible")
    monkeypatch.setenv(env.LLM_BASE_URL, fake_llm_server.base_url)
    monkeypatch.setenv(env.LLM_MODEL, "fake-model")
    reset_settings()
    return fake_llm_server
