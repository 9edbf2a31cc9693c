"""The servers a bench run uses: a fresh embedded PostgreSQL cluster and a redis-server.

Started the way tests/conftest.py starts them (convoship_dev.services, unix sockets only),
in .local/bench-pg-<pid> and .local/bench-redis-<pid>, and removed at exit, on Ctrl-C and on
SIGTERM. The demo workspace the events/ files name is inserted with the admin URL.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import psycopg
from cryptography.fernet import Fernet
from psycopg.conninfo import conninfo_to_dict

from convoship_dev import services
from convoship_dev.app_env import app_environment
from convoship_dev.demo_seed import DEMO_WORKSPACE_ID, seed_demo
from convoship_dev.fake_llm import FakeLlm
from convoship_dev.local_stack import DEV_JWT_SECRET


@dataclass(frozen=True)
class BenchStack:
    database: services.Database
    redis_url: str
    pg_socket: Path  # the server's unix socket file, for the counting proxy
    redis_socket: Path
    work_dir: Path  # private scratch space (lambda site copies, proxy sockets)
    llm: FakeLlm  # the loopback test model, answering at once (it counts its connections)

    @property
    def llm_base_url(self) -> str:
        return self.llm.base_url

    def reset_demo(self) -> None:
        """The demo workspace as seeded: events of one function (a DELETE of the agent, a
        BYOK PATCH pointing at a real provider) must not change what the next one reads."""
        with psycopg.connect(self.database.owner_admin_url, autocommit=True) as admin:
            admin.execute("DELETE FROM workspaces WHERE id = %s", (DEMO_WORKSPACE_ID,))
        seed_bench_demo(self.database.owner_admin_url)

    def app_env(self, database_url: str | None = None) -> dict[str, str]:
        """What a handler needs (as tests set it), plus quiet Powertools."""
        return app_environment(
            stage="test",
            secrets_key=_SECRETS_KEY,
            # events/ carry a token signed with the local runner's public development secret
            jwt_secret=DEV_JWT_SECRET,
            metrics_namespace="ConvoShipBench",
            database_url=database_url or self.database.app_url,
            purge_database_url=self.database.purge_url,
            keys_database_url=self.database.keys_url,
            checkpoint_database_url=self.database.checkpoint_url,
            # the checkpoint function signs with it (stage "test"; KMS in production)
            audit_dev_signing_key=_AUDIT_DEV_SIGNING_KEY,
            redis_url=self.redis_url,
            llm=(self.llm_base_url, "bench-model"),
            log_level="WARNING",
        )


_SECRETS_KEY = Fernet.generate_key().decode()
_AUDIT_DEV_SIGNING_KEY = secrets.token_urlsafe(32)


def _pg_socket(admin_url: str) -> Path:
    params = conninfo_to_dict(admin_url)
    with psycopg.connect(admin_url) as conn:
        port = conn.info.port
    return Path(str(params["host"])) / f".s.PGSQL.{port}"


def _raise_keyboard_interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def make_writable(path: Path) -> None:
    """Undo a read-only tree (lambda site copies) so it can be deleted."""
    for root, dirs, _files in os.walk(path):
        for name in dirs:
            (Path(root) / name).chmod(0o755)
    if path.exists():
        path.chmod(0o755)


def _stop_database(database: services.Database, data_dir: Path) -> None:
    """Drop the database and stop the cluster; when the drop fails (a Ctrl-C in a terminal
    also reaches the server), still stop the cluster and delete its folder."""
    try:
        database.stop()
    except Exception as exc:  # the server went first: make sure nothing is left behind
        print(f"bench: database cleanup: {exc}", file=sys.stderr)
        try:
            services.stop_embedded_postgres(data_dir)
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)


def seed_bench_demo(admin_url: str) -> None:
    seed_demo(admin_url)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        # Thousands of timed embed turns: the demo's 60 per minute would answer 429s.
        admin.execute(
            "INSERT INTO workspace_agent_ops (workspace_id, rpm_cap_per_agent)"
            " VALUES (%s, 100000) ON CONFLICT (workspace_id)"
            " DO UPDATE SET rpm_cap_per_agent = 100000",
            (DEMO_WORKSPACE_ID,),
        )


@contextmanager
def bench_stack() -> Iterator[BenchStack]:
    """Start everything; stop and delete it all when the block exits, however it exits."""
    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    pid = os.getpid()
    redis_dir = services.LOCAL_DIR / f"bench-redis-{pid}"
    data_dir = services.LOCAL_DIR / f"bench-pg-{pid}"
    work_dir = Path(tempfile.mkdtemp(prefix="convoship-bench-"))
    database: services.Database | None = None
    redis: services.LocalRedis | None = None
    llm = FakeLlm()
    try:
        database = services.provision_database(
            server_admin_url=None,
            dbname=f"convoship_bench_{pid}_{secrets.token_hex(3)}",
            data_dir=data_dir,
            fresh=True,
        )
        seed_bench_demo(database.owner_admin_url)
        redis = services.start_redis(redis_dir)
        llm.start()
        yield BenchStack(
            database=database,
            redis_url=redis.url,
            pg_socket=_pg_socket(database.admin_url),
            redis_socket=Path(redis.url.removeprefix("unix://")),
            work_dir=work_dir,
            llm=llm,
        )
    finally:
        try:
            from convoship.db.connection import close_all

            close_all()
        finally:
            llm.stop()
            if redis is not None:
                redis.stop()
            shutil.rmtree(redis_dir, ignore_errors=True)
            if database is not None:
                _stop_database(database, data_dir)
            make_writable(work_dir)
            shutil.rmtree(work_dir, ignore_errors=True)
            signal.signal(signal.SIGTERM, previous)
