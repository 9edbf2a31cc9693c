"""`rotate-keys` under a Fernet master and a KMS master (moto): re-wrapping under a new
master, then dropping the old; new data keys for one workspace; stopping mid-run and
resuming; values in the formats from before data keys converted."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from convoship.core.errors import Conflict, NotFound
from convoship.core.settings import get_settings
from convoship.keys.rotation import Options, rotate_data, rotate_master
from convoship.keys.session import keys_session
from convoship.security.crypto import key_version_of, secret_context
from tests.support.agents import Conn, Token, workspace_rows
from tests.support.api_client import ApiClient
from tests.support.keys import (
    Master,
    audit_actions,
    fill_workspace,
    key_rows,
    master_fixture,  # noqa: F401
    only_our_workspaces_fixture,  # noqa: F401
    opened,
    stored,
)
from tests.support.legacy_ciphertexts import legacy_fernet, legacy_kms

Filled = tuple[uuid.UUID, dict[str, str]]


@pytest.fixture
def filled(
    api: ApiClient,
    token: Token,
    make_workspace: Callable[..., uuid.UUID],
    master: Master,
    only_our_workspaces: list[Any],
) -> Callable[..., Filled]:
    """A workspace with `n` secrets (and a BYOK key): its id and every value by key."""

    def make(n: int = 3, byok: bool = True) -> Filled:
        ws = make_workspace()
        only_our_workspaces.append(ws)
        values = {f"S{i}": f"secret-{ws}-{i}" for i in range(n)}
        key = f"sk-byok-{ws}" if byok else None
        fill_workspace(api, token(ws, "admin"), values, key)
        return ws, {**values, **({"byok": key} if key else {})}

    return make


def add_legacy_secret(owner_sql: Conn, master: Master, ws: object, name: str, value: str) -> None:
    """A value sealed as before data keys, with the master of that time."""
    context = secret_context(ws, name)
    if master.kind == "kms":
        ciphertext = legacy_kms(value, context, master.kms, master.kms_keys[-1])
    else:
        ciphertext = legacy_fernet(value, context, master.fernet[-1])
    owner_sql.execute(
        "INSERT INTO workspace_secrets (workspace_id, name, value_ciphertext) VALUES (%s, %s, %s)",
        (ws, name, ciphertext),
    )


def test_master_rotation_rewraps_keys_and_the_old_master_can_go(
    master: Master, filled: Callable[..., Filled], owner_sql: Conn
) -> None:
    (a, values_a), (b, values_b) = filled(3), filled(2, byok=False)
    add_legacy_secret(owner_sql, master, a, "OLD", "from-before")
    values_a["OLD"] = "from-before"
    before = {ws: stored(owner_sql, ws) for ws in (a, b)}
    old_master = key_rows(owner_sql, a)[0]["master_key_id"]

    master.rotate()  # the new master is deployed first; the old one still decrypts
    report = rotate_master(get_settings())
    master.drop_old()

    assert report.finished and report.workspaces == 2 and report.workspaces_changed == 2
    assert report.keys_rewrapped == 2 and report.values_resealed == 1  # only the old format
    assert opened(owner_sql, a) == values_a and opened(owner_sql, b) == values_b
    new_master = key_rows(owner_sql, a)[0]["master_key_id"]
    assert new_master != old_master
    for ws in (a, b):
        assert [k["master_key_id"] for k in key_rows(owner_sql, ws)] == [new_master]
        after = stored(owner_sql, ws)
        for key, (ciphertext, _) in before[ws].items():  # values were not re-sealed...
            assert (after[key][0] == ciphertext) is (key != "OLD")  # ...but the old format
        (row,) = audit_actions(owner_sql, ws, "keys.master_rewrapped")
        assert row["actor_type"] == "system" and row["after_state"]["versions"] == [1]
    assert key_version_of(stored(owner_sql, a)["OLD"][0]) == 1

    again = rotate_master(get_settings())  # idempotent: nothing left to do, nothing recorded
    assert (again.workspaces_changed, again.keys_rewrapped, again.values_resealed) == (0, 0, 0)
    assert len(audit_actions(owner_sql, a, "keys.master_rewrapped")) == 1


def test_data_rotation_of_one_workspace_leaves_the_others_untouched(
    master: Master, filled: Callable[..., Filled], owner_sql: Conn
) -> None:
    (a, values_a), (b, values_b) = filled(4), filled(2)
    add_legacy_secret(owner_sql, master, a, "OLD", "from-before")
    values_a["OLD"] = "from-before"
    untouched = {
        t: workspace_rows(owner_sql, t, b)
        for t in ("workspace_secrets", "workspace_llm_settings", "workspace_data_keys")
    }

    report = rotate_data(get_settings(), workspace_id=a)

    assert report.finished and report.values_resealed == 6 and report.workspaces_changed == 1
    (key,) = key_rows(owner_sql, a)  # version 1 retired: deleted
    assert key["version"] == 2 and str(key["rotation_run"]) == report.run_id
    assert {key_version_of(c) for c, _ in stored(owner_sql, a).values()} == {2}
    assert opened(owner_sql, a) == values_a and opened(owner_sql, b) == values_b
    assert {t: workspace_rows(owner_sql, t, b) for t in untouched} == untouched
    (row,) = audit_actions(owner_sql, a, "keys.data_rotated")
    assert row["after_state"]["version"] == 2 and row["after_state"]["retired_versions"] == [1]
    assert audit_actions(owner_sql, b, "keys.data_rotated") == []

    second = rotate_data(get_settings(), workspace_id=a)  # a finished run is not resumed
    assert not second.resumed and [k["version"] for k in key_rows(owner_sql, a)] == [3]
    assert opened(owner_sql, a) == values_a


def test_a_stopped_rotation_resumes_and_seals_nothing_twice(
    master: Master, filled: Callable[..., Filled], owner_sql: Conn
) -> None:
    workspaces = dict(filled(5) for _ in range(3))
    batches = iter(range(100))
    stop_after = 4  # batches of 2: stops inside the second workspace
    stopped = rotate_data(
        get_settings(),
        options=Options(batch_size=2, should_stop=lambda: next(batches) >= stop_after),
    )
    assert not stopped.finished and 0 < stopped.values_resealed < 18
    moved = {
        (ws, k): c
        for ws in workspaces
        for k, (c, _) in stored(owner_sql, ws).items()
        if key_version_of(c) == 2
    }
    assert moved and len(moved) < 18

    resumed = rotate_data(get_settings())

    assert resumed.resumed and resumed.run_id == stopped.run_id and resumed.finished
    assert stopped.values_resealed + resumed.values_resealed == 18  # each value once
    for ws, values in workspaces.items():
        assert [k["version"] for k in key_rows(owner_sql, ws)] == [2]  # one new key, once
        assert opened(owner_sql, ws) == values
        assert len(audit_actions(owner_sql, ws, "keys.data_rotated")) == 1
    for (ws, key), ciphertext in moved.items():
        assert stored(owner_sql, ws)[key][0] == ciphertext  # not sealed a second time


def test_one_rotation_at_a_time_and_unknown_workspaces(
    master: Master, filled: Callable[..., Filled]
) -> None:
    ws, _ = filled(1, byok=False)
    with keys_session(get_settings(), rotation=True), pytest.raises(Conflict):
        rotate_data(get_settings(), workspace_id=ws)
    with pytest.raises(NotFound):
        rotate_master(get_settings(), workspace_id=uuid.uuid4())


def test_workspaces_without_values_get_no_key(
    master: Master,
    make_workspace: Callable[..., uuid.UUID],
    owner_sql: Conn,
    only_our_workspaces: list[Any],
) -> None:
    empty = make_workspace()
    only_our_workspaces.append(empty)
    report = rotate_data(get_settings(), workspace_id=empty)
    assert report.finished and report.workspaces_changed == 0
    assert key_rows(owner_sql, empty) == []


def test_progress_is_reported(master: Master, filled: Callable[..., Filled]) -> None:
    ws, _ = filled(3)
    seen: list[tuple[int, int, int]] = []
    rotate_data(
        get_settings(),
        workspace_id=ws,
        options=Options(batch_size=2, progress=lambda *p: seen.append(p)),
    )
    assert seen[0] == (0, 1, 0) and seen[-1] == (1, 1, 4)
    assert [p[2] for p in seen] == sorted(p[2] for p in seen)
