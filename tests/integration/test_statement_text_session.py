"""A pooled connection's kept Transformer (PooledConnection.spelling) spells values for the
session as it is now: a client_encoding or standard_conforming_strings changed on the
connection after its first batch spells as psycopg's mogrify spells then, and the values
read back as written (a Transformer's dumpers keep the encoding and the quote prefix of
the session they were made in)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from convoship.db.connection import PooledConnection, acquire, release
from convoship.db.read_batch import write_batch
from convoship.db.statement_text import statement_text
from tests.support.rpm_caps import UPSERT_CAP, cap_of

TEXTS = ["é", "Á'", "表'", "it's", "back\\slash", "\U0001f600"]


@pytest.fixture
def conn(database: Any) -> Iterator[PooledConnection]:
    with PooledConnection.connect(database.app_url, autocommit=True) as connection:
        yield connection


def _mogrify(conn: psycopg.Connection[Any], query: str, params: Any) -> bytes:
    return psycopg.ClientCursor(conn).mogrify(query, params).encode(conn.info.encoding)


def _outcome(spell: Any) -> tuple[Any, ...]:
    try:
        return ("text", spell())
    except Exception as exc:
        return ("error", type(exc), str(exc))


def _spelled(conn: PooledConnection, query: str, params: Any) -> bytes:
    return statement_text(conn, conn.spelling, query, params)


def _warm(conn: PooledConnection) -> None:
    """The kept Transformer's dumpers made, in the session as it was."""
    for value in [*TEXTS, b"AB\\", Jsonb({"k": "é"}), ["é"]]:
        _spelled(conn, "SELECT %s", (value,))


@pytest.mark.parametrize("encoding", ["LATIN1", "WIN1252", "GBK", "SJIS"])
def test_a_client_encoding_set_after_a_batch_spells_as_psycopg_does(
    conn: PooledConnection, encoding: str
) -> None:
    _warm(conn)
    conn.execute(f"SET client_encoding TO '{encoding}'")
    for value in [*TEXTS, Jsonb({"k": "é"}), ["é"]]:
        for query, params in [("SELECT %s AS v", (value,)), ("SELECT %(a)s AS v", {"a": value})]:
            ours = _outcome(lambda q=query, p=params: _spelled(conn, q, p))
            assert ours == _outcome(lambda q=query, p=params: _mogrify(conn, q, p)), value


def test_text_spelled_after_an_encoding_change_reads_back_as_written(
    conn: PooledConnection,
) -> None:
    _warm(conn)
    conn.execute("SET client_encoding TO 'LATIN1'")
    text = _spelled(conn, "SELECT %s::text AS v", ("é'",))
    assert conn.execute(text).fetchone() == ("é'",)


@pytest.mark.parametrize(("first", "then"), [("on", "off"), ("off", "on")])
def test_bytes_spelled_after_a_quoting_change_read_back_as_written(
    conn: PooledConnection, first: str, then: str
) -> None:
    conn.execute(f"SET standard_conforming_strings TO {first}")
    _warm(conn)
    conn.execute(f"SET standard_conforming_strings TO {then}")
    for value in [b"AB", b"\\", b"'\x00\xff"]:
        text = _spelled(conn, "SELECT %s AS v", (value,))
        assert conn.execute(text).fetchone() == (value,)
        assert text == _mogrify(conn, "SELECT %s AS v", (value,))


def test_an_unchanged_session_keeps_its_transformer(conn: PooledConnection) -> None:
    """What makes the kept Transformer worth keeping: one per session state, not per batch."""
    kept = conn.spelling
    _warm(conn)
    conn.execute("SET application_name TO 'other'")
    assert conn.spelling is kept


def test_a_batch_with_a_value_it_cannot_spell_writes_nothing_and_its_connection_serves_on(
    workspace: uuid.UUID, owner_sql: Any
) -> None:
    """A NUL (psycopg.DataError) refuses the whole batch: the statements spelled before it
    are not sent, the pooled connection and its kept Transformer spell the next batch."""
    with pytest.raises(psycopg.DataError), write_batch(workspace_id=workspace) as conn:
        conn.execute(UPSERT_CAP, {"ws": workspace, "cap": 21})
        conn.execute("SELECT %(v)s::text AS v", {"v": "a\x00b"})
    assert cap_of(owner_sql, workspace) != 21
    pooled = acquire()
    release(pooled)
    assert not pooled.closed and pooled.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    with write_batch(workspace_id=workspace) as conn:
        conn.execute(UPSERT_CAP, {"ws": workspace, "cap": 22})
        conn.execute("SELECT %(v)s::text AS v", {"v": "a'b"})
    assert cap_of(owner_sql, workspace) == 22


def test_a_kept_statement_is_spelled_again_for_a_new_transformer(conn: PooledConnection) -> None:
    """PooledConnection.spelled keeps a text only while the Transformer it was spelled with
    is kept: after a client_encoding change the scope statement is spelled for the new one."""
    token = "tok-é'"
    made: list[Any] = []

    def scope_text(transformer: Any) -> bytes:
        made.append(transformer)
        return statement_text(conn, transformer, "SELECT set_config('x.y', %s, true)", (token,))

    first, spelling = conn.spelled(("scope", token), scope_text)
    assert spelling is made[0] is conn.spelling
    assert conn.spelled(("scope", token), scope_text)[0] is first and len(made) == 1
    conn.execute("SET client_encoding TO 'LATIN1'")
    again, spelling = conn.spelled(("scope", token), scope_text)
    assert len(made) == 2 and made[1] is spelling is conn.spelling is not made[0]
    assert again == _mogrify(conn, "SELECT set_config('x.y', %s, true)", (token,))
    assert again != first  # é in LATIN1, not UTF-8


def test_kept_statements_are_bounded_and_never_answer_for_another_key(
    conn: PooledConnection,
) -> None:
    from convoship.db.connection import KEPT_STATEMENTS

    def text_of(n: int) -> bytes:
        spell = lambda tx: statement_text(conn, tx, "SELECT %s", (n,))  # noqa: E731
        return conn.spelled(("scope", n), spell)[0]

    for n in range(KEPT_STATEMENTS * 3):
        assert text_of(n) == f"SELECT {n}".encode()
        assert conn._spelling is not None and len(conn._spelling[2]) <= KEPT_STATEMENTS
    assert text_of(7) == b"SELECT 7"


def test_batches_of_two_tokens_on_one_connection_each_run_in_their_own_scope(
    database: Any,
) -> None:
    from convoship.db.read_batch import read_transaction

    release(acquire())  # one pooled connection for both
    for token in ["tok-one", "tok-two", "tok-one", "tok-two"]:
        with read_transaction(public_token=token) as batch:
            row = batch.execute(
                "SELECT current_setting('app.ai_agent_public_token') AS token"
            ).fetchone()
        assert row == {"token": token}
