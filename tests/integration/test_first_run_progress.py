"""The slow first step of a fresh clone says what it does: initialising PostgreSQL (about
10 s) prints a progress line; a cluster that already exists starts without one."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg

from convoship_dev import services


def test_initialising_postgres_says_so_once(tmp_path: Path) -> None:
    data_dir = services.LOCAL_DIR / f"test-first-run-{tmp_path.name}"
    heard: list[str] = []
    try:
        url = services.start_embedded_postgres(
            data_dir, delete_on_stop=False, progress=heard.append
        )
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        services.stop_embedded_postgres(data_dir)
        assert len(heard) == 1 and "initialising PostgreSQL" in heard[0], heard
        services.start_embedded_postgres(data_dir, delete_on_stop=False, progress=heard.append)
        assert len(heard) == 1, heard  # an existing cluster starts silently
    finally:
        services.stop_embedded_postgres(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)
