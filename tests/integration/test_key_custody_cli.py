"""The operator commands as processes: `convoship rotate-keys` killed with SIGKILL in the
middle of a workspace and run again, its progress bar and summary; `workspace delete`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from convoship.security.crypto import key_version_of
from tests.support.agents import Conn, Token
from tests.support.api_client import ApiClient
from tests.support.keys import (
    audit_actions,
    fill_workspace,
    key_rows,
    only_our_workspaces_fixture,  # noqa: F401
    opened,
    stored,
)

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "convoship_dev.cli"]


def cli_env(base_env: dict[str, str]) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CONVOSHIP_")}
    environ.update(base_env)
    environ["CONVOSHIP_LLM_PROVIDER"] = "bedrock"  # no local echo model needed here
    return environ


def run_cli(base_env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], cwd=ROOT, env=cli_env(base_env), capture_output=True, text=True, timeout=120
    )


def workspaces_with_values(
    api: ApiClient, token: Token, make: Callable[..., uuid.UUID], ours: list[Any], n: int
) -> dict[uuid.UUID, dict[str, str]]:
    made = {}
    for _ in range(n):
        ws = make()
        ours.append(ws)
        values = {f"S{i}": f"value-{ws}-{i}" for i in range(8)}
        fill_workspace(api, token(ws, "admin"), values, f"sk-byok-{ws}")
        made[ws] = {**values, "byok": f"sk-byok-{ws}"}
    return made


def mid_workspace(owner_sql: Conn) -> bool:
    """A workspace has its new key and some, not all, of its values under it."""
    row = owner_sql.execute(
        "SELECT count(*) AS n FROM (SELECT k.workspace_id FROM workspace_data_keys k"
        " GROUP BY k.workspace_id HAVING count(*) = 2) two"
        " JOIN workspace_secrets s ON s.workspace_id = two.workspace_id"
        " AND s.data_key_version = 2"
    ).fetchone()
    return row is not None and row["n"] > 0


def test_kill_9_in_the_middle_then_rerun_finishes_sealing_nothing_twice(
    api: ApiClient,
    token: Token,
    make_workspace: Callable[..., uuid.UUID],
    owner_sql: Conn,
    base_env: dict[str, str],
    only_our_workspaces: list[Any],
) -> None:
    workspaces = workspaces_with_values(api, token, make_workspace, only_our_workspaces, 4)
    total = sum(len(v) for v in workspaces.values())
    process = subprocess.Popen(
        [*CLI, "rotate-keys", "--data", "--batch-size", "2", "--pause-ms", "40"],
        cwd=ROOT,
        env=cli_env(base_env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not mid_workspace(owner_sql):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the rotation never got going"
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=10)
    assert process.returncode == -signal.SIGKILL

    moved = {
        (ws, k): c
        for ws in workspaces
        for k, (c, _) in stored(owner_sql, ws).items()
        if key_version_of(c) == 2
    }
    assert 0 < len(moved) < total
    assert any(len(key_rows(owner_sql, ws)) == 2 for ws in workspaces)  # killed mid-workspace

    rerun = run_cli(base_env, "rotate-keys", "--data", "--batch-size", "2")

    assert rerun.returncode == 0, rerun.stderr
    report = json.loads(rerun.stdout)
    assert report["resumed"] and report["finished"]
    assert report["values_resealed"] == total - len(moved)  # the rest, each once
    assert "4/4 workspaces" in rerun.stderr  # the progress bar, on stderr
    for ws, values in workspaces.items():
        assert [k["version"] for k in key_rows(owner_sql, ws)] == [2]
        assert opened(owner_sql, ws) == values
        assert len(audit_actions(owner_sql, ws, "keys.data_rotated")) == 1
    for (ws, key), ciphertext in moved.items():
        assert stored(owner_sql, ws)[key][0] == ciphertext


def test_rotate_keys_master_and_bad_arguments(
    api: ApiClient,
    token: Token,
    make_workspace: Callable[..., uuid.UUID],
    base_env: dict[str, str],
    only_our_workspaces: list[Any],
) -> None:
    (ws,) = workspaces_with_values(api, token, make_workspace, only_our_workspaces, 1)
    done = run_cli(base_env, "rotate-keys", "--master", "--workspace", str(ws))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["finished"] is True
    assert run_cli(base_env, "rotate-keys", "--master", "--data").returncode == 2
    bad = run_cli(base_env, "rotate-keys", "--data", "--workspace", "nope")
    assert bad.returncode != 0 and "must be a UUID" in bad.stderr
    unknown = run_cli(base_env, "rotate-keys", "--data", "--workspace", str(uuid.uuid4()))
    assert unknown.returncode != 0 and "no workspace" in unknown.stderr


def test_workspace_delete_needs_yes_and_records_the_operator(
    api: ApiClient,
    token: Token,
    make_workspace: Callable[..., uuid.UUID],
    owner_sql: Conn,
    base_env: dict[str, str],
    only_our_workspaces: list[Any],
) -> None:
    (ws,) = workspaces_with_values(api, token, make_workspace, only_our_workspaces, 1)
    refused = run_cli(base_env, "workspace", "delete", str(ws))
    assert refused.returncode != 0 and "--yes" in refused.stderr
    assert key_rows(owner_sql, ws)  # nothing deleted

    deleted = run_cli(base_env, "workspace", "delete", str(ws), "--yes", "--actor", "ops:ana")

    assert deleted.returncode == 0, deleted.stderr
    assert json.loads(deleted.stdout) == {
        "workspace_id": str(ws),
        "data_keys": 1,
        "secrets": 8,
        "byok_keys": 1,
        "legacy_values": 0,
    }
    row = owner_sql.execute(
        "SELECT actor_type, actor_id, action FROM system_audit_log WHERE resource_id = %s",
        (str(ws),),
    ).fetchone()
    assert row == {"actor_type": "operator", "actor_id": "ops:ana", "action": "workspace.shredded"}
    again = run_cli(base_env, "workspace", "delete", str(ws), "--yes")
    assert again.returncode != 0 and "no workspace" in again.stderr
