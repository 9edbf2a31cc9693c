"""The audit_log hash chain: the encoding both sides compute, gapless seq under concurrent
writers, and tampering by someone with the table owner's access, each caught at its row."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from convoship.audit.chain import CANONICAL_SQL, CHAIN_COLUMNS, GENESIS, canonical, row_hash
from convoship.audit.checkpoint import checkpoint_chain_heads
from convoship.audit.record import Actor, AgentRef, record
from convoship.audit.signing import DevHmacSigner, configured_signer
from convoship.audit.verify import verify_workspace_chain
from convoship.core.settings import get_settings
from convoship.db.transactions import rls_transaction

Conn = psycopg.Connection[dict[str, Any]]

NASTY = [
    'quote " and backslash \\ and slash /',
    "control \x01\x1f\t\n\r\b\f and DEL \x7f",
    "unicode é ü 日本 \u2028 \U0001f600",
    "<img src=x onerror=alert(1)>",
]


def write(workspace: uuid.UUID, n: int, *, agent: AgentRef | None = None, tag: str = "x") -> None:
    for i in range(n):
        with rls_transaction(workspace_id=workspace) as tx:
            record(
                tx,
                Actor(workspace, f"user-{i}", request_id=f"req-{i}"),
                action=f"{tag}.updated",
                resource_type="thing",
                resource_id=str(i),
                agent=agent,
                before={"n": i, "s": NASTY[i % len(NASTY)]},
                after={"n": i + 1, "nested": {"list": [1, 2.5, None, True]}, "é": "ü"},
            )


def rows_of(owner_sql: Conn, workspace: uuid.UUID) -> list[dict[str, Any]]:
    return owner_sql.execute(
        f"SELECT {CHAIN_COLUMNS} FROM audit_log WHERE workspace_id = %s ORDER BY seq".encode(),
        (workspace,),
    ).fetchall()


def test_python_and_the_database_encode_rows_alike(owner_sql: Conn, workspace: uuid.UUID) -> None:
    write(workspace, 8, agent=AgentRef(uuid.uuid4(), "bot"))
    with rls_transaction(workspace_id=workspace) as tx:  # nulls everywhere they may be
        record(tx, Actor(workspace, "sys", actor_type="system"), action="a", resource_type="r")
    rows = rows_of(owner_sql, workspace)
    assert [r["seq"] for r in rows] == list(range(1, 10))
    assert rows[0]["prev_hash"] == GENESIS
    assert all(rows[i]["prev_hash"] == rows[i - 1]["hash"] for i in range(1, len(rows)))
    assert [row_hash(r) for r in rows] == [r["hash"] for r in rows]
    in_sql = owner_sql.execute(
        f"SELECT {CANONICAL_SQL} AS ours, audit_canonical(l) AS stored FROM audit_log l"
        " WHERE workspace_id = %s ORDER BY seq".encode(),
        (workspace,),
    ).fetchall()
    assert [r["ours"] for r in in_sql] == [r["stored"] for r in in_sql]
    assert [r["ours"] for r in in_sql] == [canonical(r) for r in rows]
    result = verify_workspace_chain(workspace)
    assert result == {
        "ok": True,
        "rows": 9,
        "head": {"seq": 9, "hash": rows[-1]["hash"]},
        "first_bad_seq": None,
        "checkpoint": None,
        "detail": None,
    }


def test_a_writer_cannot_choose_its_place_in_the_chain(
    app_sql: Conn, owner_sql: Conn, workspace: uuid.UUID
) -> None:
    write(workspace, 2)
    with app_sql.transaction():
        app_sql.execute("SELECT set_config('app.workspace_id', %s, true)", (str(workspace),))
        app_sql.execute(
            "INSERT INTO audit_log (workspace_id, actor_type, actor_id, action, resource_type,"
            " seq, prev_hash, hash) VALUES (%s, 'user', 'u', 'forged', 'x', 1, 'a', 'b')",
            (workspace,),
        )
    assert [r["seq"] for r in rows_of(owner_sql, workspace)] == [1, 2, 3]
    assert verify_workspace_chain(workspace)["ok"] is True
    for statement in ("UPDATE audit_chain_heads SET seq = 0", "DELETE FROM audit_chain_heads"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege), app_sql.transaction():
            app_sql.execute(statement.encode())


def test_concurrent_audited_writes_get_a_gapless_chain(
    owner_sql: Conn, workspace: uuid.UUID
) -> None:
    writers, each = 16, 5
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            barrier.wait()
            for i in range(each):
                try:
                    with rls_transaction(workspace_id=workspace) as tx:
                        record(tx, Actor(workspace, f"w{k}"), action="w", resource_type="r")
                        tx.execute("SELECT pg_sleep(0.001)")
                        if i == 2:  # a rolled-back write gives its seq back
                            raise RuntimeError("rolled back")
                except RuntimeError:
                    pass
        except BaseException as exc:  # pragma: no cover - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    rows = rows_of(owner_sql, workspace)
    assert [r["seq"] for r in rows] == list(range(1, writers * (each - 1) + 1))
    result = verify_workspace_chain(workspace)
    assert result["ok"] and result["rows"] == writers * (each - 1)


def tamper(owner_sql: Conn, statement: str, *params: object) -> None:
    """As the table owner (who holds every privilege the app role lacks)."""
    owner_sql.execute(statement.encode(), params)


def test_an_edited_row_is_reported_at_its_seq(owner_sql: Conn, workspace: uuid.UUID) -> None:
    write(workspace, 6)
    tamper(
        owner_sql,
        "UPDATE audit_log SET after_state = '{\"n\": 99}' WHERE workspace_id = %s AND seq = 4",
        workspace,
    )
    result = verify_workspace_chain(workspace)
    assert (result["ok"], result["first_bad_seq"], result["rows"]) == (False, 4, 6)
    assert "changed" in result["detail"]


def test_an_edit_that_rehashes_its_row_breaks_the_next_link(
    owner_sql: Conn, workspace: uuid.UUID
) -> None:
    write(workspace, 5)
    tamper(
        owner_sql,
        "UPDATE audit_log SET actor_id = 'someone-else' WHERE workspace_id = %s AND seq = 2",
        workspace,
    )
    forged = rows_of(owner_sql, workspace)[1]
    tamper(
        owner_sql,
        "UPDATE audit_log SET hash = %s WHERE id IS NOT NULL AND workspace_id = %s AND seq = 2",
        row_hash(forged),
        workspace,
    )
    assert verify_workspace_chain(workspace)["first_bad_seq"] == 3


def test_a_deleted_middle_row_is_reported_at_its_seq(owner_sql: Conn, workspace: uuid.UUID) -> None:
    write(workspace, 6)
    tamper(owner_sql, "DELETE FROM audit_log WHERE workspace_id = %s AND seq = 3", workspace)
    result = verify_workspace_chain(workspace)
    assert (result["ok"], result["first_bad_seq"], result["rows"]) == (False, 3, 5)
    assert result["detail"] == "row 3 is missing"


def test_deleted_newest_rows_are_caught_by_the_signed_checkpoint(
    owner_sql: Conn, workspace: uuid.UUID, other_workspace: uuid.UUID
) -> None:
    write(workspace, 6)
    write(other_workspace, 2)
    signer = configured_signer(get_settings())
    assert isinstance(signer, DevHmacSigner)  # the tests' development key, no KMS
    assert checkpoint_chain_heads(get_settings(), signer)["signed"] >= 2  # + other tests'
    assert checkpoint_chain_heads(get_settings(), signer)["signed"] == 0  # nothing changed
    assert verify_workspace_chain(workspace)["checkpoint"]["seq"] == 6
    # The owner deletes rows 5 and 6 and covers the tracks in the chain head too: the
    # remaining chain is intact in itself, only the signed checkpoint remembers row 6.
    tamper(owner_sql, "DELETE FROM audit_log WHERE workspace_id = %s AND seq > 4", workspace)
    row4 = rows_of(owner_sql, workspace)[-1]
    tamper(
        owner_sql,
        "UPDATE audit_chain_heads SET seq = 4, hash = %s WHERE workspace_id = %s",
        row4["hash"],
        workspace,
    )
    result = verify_workspace_chain(workspace)
    assert (result["ok"], result["first_bad_seq"], result["rows"]) == (False, 5, 4)
    assert result["head"] == {"seq": 4, "hash": row4["hash"]}
    assert "signed checkpoint" in result["detail"]
    assert verify_workspace_chain(other_workspace)["ok"] is True


def test_deleted_newest_rows_are_caught_by_the_head_when_it_was_left_alone(
    owner_sql: Conn, workspace: uuid.UUID
) -> None:
    write(workspace, 4)
    tamper(owner_sql, "DELETE FROM audit_log WHERE workspace_id = %s AND seq = 4", workspace)
    result = verify_workspace_chain(workspace)
    assert (result["ok"], result["first_bad_seq"]) == (False, 4)


def test_a_forged_or_foreign_checkpoint_is_not_trusted(
    owner_sql: Conn, workspace: uuid.UUID
) -> None:
    write(workspace, 3)
    settings = get_settings()
    stranger = DevHmacSigner(b"a key this deployment never had")
    checkpoint_chain_heads(settings, stranger)
    result = verify_workspace_chain(workspace)
    assert result["ok"] is False and result["checkpoint"]["seq"] == 3
    assert "no valid signature" in result["detail"]
    tamper(owner_sql, "DELETE FROM audit_checkpoints WHERE workspace_id = %s", workspace)
    own = configured_signer(settings)
    assert own is not None
    checkpoint_chain_heads(settings, own)
    tamper(
        owner_sql,
        "UPDATE audit_checkpoints SET seq = 2 WHERE workspace_id = %s",  # moved: bad signature
        workspace,
    )
    assert verify_workspace_chain(workspace)["ok"] is False


def test_the_checkpoint_role_reads_only_what_it_signs(
    database: Any, workspace: uuid.UUID, make_workspace: Callable[..., uuid.UUID]
) -> None:
    write(workspace, 1)
    with psycopg.connect(database.checkpoint_url) as conn:
        assert conn.execute("SELECT count(*) FROM audit_chain_heads").fetchone() is not None
        conn.execute("SELECT workspace_id, seq, hash FROM audit_log").fetchall()
        for statement in (
            "SELECT after_state FROM audit_log",
            "SELECT * FROM ai_agents",
            "UPDATE audit_chain_heads SET seq = 0",
            "DELETE FROM audit_checkpoints",
            "UPDATE audit_log SET hash = 'x'",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement.encode())
            conn.rollback()


def test_a_chain_longer_than_one_chunk_is_walked_whole(
    owner_sql: Conn, workspace: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    from convoship.audit import verify

    monkeypatch.setattr(verify, "CHUNK", 4)  # 10 rows: chunks of 4, 4 and 2
    write(workspace, 10)
    result = verify_workspace_chain(workspace)
    assert (result["ok"], result["rows"], result["head"]["seq"]) == (True, 10, 10)
    tamper(owner_sql, "DELETE FROM audit_log WHERE workspace_id = %s AND seq = 5", workspace)
    result = verify_workspace_chain(workspace)
    assert (result["ok"], result["rows"], result["first_bad_seq"]) == (False, 9, 5)


@pytest.mark.parametrize(
    "claimed", ["2001-01-01T00:00:00Z", "10000-01-01T00:00:00Z", "infinity", "-infinity"]
)
def test_a_writer_cannot_choose_when_its_row_occurred(
    api: Any,
    token: Callable[..., str],
    app_sql: Conn,
    owner_sql: Conn,
    workspace: uuid.UUID,
    claimed: str,
) -> None:
    """Backdated or far-future: the database stamps the row with now(), and both the
    search and the chain walk keep working over it."""
    write(workspace, 1)
    with app_sql.transaction():
        app_sql.execute("SELECT set_config('app.workspace_id', %s, true)", (str(workspace),))
        stamped = app_sql.execute(
            "INSERT INTO audit_log (workspace_id, actor_type, actor_id, action, resource_type,"
            " occurred_at) VALUES (%s, 'user', 'u', 'dated', 'x', %s::timestamptz)"
            " RETURNING occurred_at = now() AS now",
            (workspace, claimed),
        ).fetchone()
    assert stamped == {"now": True}
    admin = token(workspace, "admin")
    search = api.get("/v1/audit-log?action=dated", token=admin)
    assert search.status == 200, search.text
    assert [e["action"] for e in search.json()["items"]] == ["dated"]
    everything = api.get("/v1/audit-log", token=admin)
    assert everything.status == 200 and len(everything.json()["items"]) == 2
    verified = api.get("/v1/audit-log/verify", token=admin)
    assert verified.status == 200 and verified.json()["ok"] is True, verified.text
    assert verified.json()["rows"] == 2
