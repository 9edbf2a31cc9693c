"""A batch's message read without a cursor gives what psycopg's cursor gives: the same rows
(values of every type the app reads, the same keys), the same errors, and a connection left
as the cursor leaves it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from convoship.db.connection import PooledConnection
from convoship.db.simple_query import run_message

TYPED = (
    "SELECT 1 AS one, NULL::int AS nothing, 2::bigint ^ 0 AS float, 12.3400::numeric AS money,"
    " 'été ✓ \U0001f600'::text AS words, E'\\\\x00ff'::bytea AS raw, true AS yes,"
    " '8e0c7d8e-3a9f-4f5e-9a55-1f0e2b9a7c11'::uuid AS id,"
    " '2026-12-02 01:02:03.456+00'::timestamptz AS at, '2026-12-02'::date AS day,"
    " '1 day 2 hours'::interval AS span, ARRAY['a', NULL, 'b''c'] AS list,"
    """ '{"k": [1, null, "\\u2028"]}'::jsonb AS doc, '{"j": 1}'::json AS plain,"""
    ' 7 AS "Mixed Case", 8 AS "ünïcode"'
)
MESSAGES = [
    TYPED,
    "SELECT 1 AS a; SELECT 2 AS b, 3 AS b",  # a repeated name: the last one wins, as in dict_row
    "SELECT generate_series(1, 3) AS n WHERE false; SELECT generate_series(1, 3) AS n",
    "SELECT set_config('app.workspace_id', 'x', true); DO $$ BEGIN END $$; SELECT 4 AS four",
    "SET LOCAL statement_timeout = '5s'; SHOW statement_timeout; SELECT 5 AS five",
]


@pytest.fixture
def conn(database: Any) -> Iterator[PooledConnection]:
    with PooledConnection.connect(database.app_url, autocommit=True) as connection:
        yield connection


def _by_cursor(conn: psycopg.Connection[Any], message: str) -> list[list[dict[str, Any]]]:
    cursor = psycopg.ClientCursor(conn, row_factory=dict_row)
    cursor.execute(message)
    results = []
    while True:
        result = cursor.pgresult
        has_rows = result is not None and result.status == psycopg.pq.ExecStatus.TUPLES_OK
        results.append(cursor.fetchall() if has_rows else [])
        if not cursor.nextset():
            return results


@pytest.mark.parametrize("message", MESSAGES)
def test_the_rows_are_the_cursors(conn: PooledConnection, message: str) -> None:
    expected = _by_cursor(conn, message)
    got = run_message(conn, message.encode())
    assert got == expected
    assert [[list(row) for row in rows] for rows in got] == [
        [list(row) for row in rows] for rows in expected
    ]
    assert [[{k: type(v) for k, v in row.items()} for row in rows] for rows in got] == [
        [{k: type(v) for k, v in row.items()} for row in rows] for rows in expected
    ]
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


def test_skipped_statements_are_not_read_but_their_errors_are(
    conn: PooledConnection,
) -> None:
    assert run_message(conn, b"SELECT 1 AS a; SELECT 2 AS b; SELECT 3 AS c", skip=2) == [[{"c": 3}]]
    assert run_message(conn, b"DO $$ BEGIN END $$; SELECT 4 AS d", skip=1) == [[{"d": 4}]]
    with pytest.raises(psycopg.errors.DivisionByZero):
        run_message(conn, b"SELECT 1 / 0 AS boom; SELECT 2 AS b", skip=1)


def test_values_are_read_in_the_sessions_time_zone_as_it_is_now(
    conn: PooledConnection,
) -> None:
    query = b"SELECT '2026-12-02 01:00:00+00'::timestamptz AS at"
    before = run_message(conn, query)[0][0]["at"]
    run_message(conn, b"SET TimeZone TO 'Asia/Tokyo'")
    after = run_message(conn, query)[0][0]["at"]
    assert after == before
    assert str(after.tzinfo) == "Asia/Tokyo" and str(before.tzinfo) != "Asia/Tokyo"
    assert after == _by_cursor(conn, query.decode())[0][0]["at"]
    assert str(after.tzinfo) == str(_by_cursor(conn, query.decode())[0][0]["at"].tzinfo)


@pytest.mark.parametrize(
    "setting",
    [
        "TimeZone TO 'Asia/Tokyo'",
        "DateStyle TO 'SQL, DMY'",
        "DateStyle TO 'German'",
        "IntervalStyle TO 'postgres_verbose'",
        "IntervalStyle TO 'sql_standard'",
        "client_encoding TO 'LATIN1'",
    ],
)
def test_a_pooled_connection_reads_in_the_session_as_it_is_now(database: Any, setting: str) -> None:
    """A pooled connection keeps the Transformer it reads rows with (db/connection.py): one
    made before the session changed would read times in the old zone, dates and intervals in
    the old style, text in the old encoding."""
    query = "SELECT " + ", ".join(
        [
            "'2026-12-02 01:00:00+00'::timestamptz AS at",
            "'2026-12-02'::date AS day",
            "'2026-12-02 01:02:03'::timestamp AS local",
            "'1 day 2 hours 3.5 seconds'::interval AS span",
            "'-1 year -2 mons +3 days -04:05:06'::interval AS back",
            "'été'::text AS words",
        ]
    )
    with PooledConnection.connect(database.app_url, autocommit=True) as conn:
        before = run_message(conn, query.encode())
        assert before == _by_cursor(conn, query)
        run_message(conn, f"SET {setting}".encode())
        for field in ("at", "day", "local", "span", "back", "words"):
            one = f"SELECT {field} FROM ({query}) AS q"
            ours = _outcome(lambda q=one: run_message(conn, q.encode(conn.info.encoding)))
            assert ours == _outcome(lambda q=one: _by_cursor(conn, q)), field
            if field == "at" and ours[0] == "rows":
                assert str(ours[1][0][0]["at"].tzinfo) == str(conn.info.timezone)


def _outcome(read: Any) -> tuple[Any, ...]:
    """Rows (with the types of their values), or the error a read raised."""
    try:
        rows = read()
    except Exception as exc:
        return ("error", type(exc), str(exc))
    return ("rows", rows, [[{k: type(v) for k, v in r.items()} for r in rs] for rs in rows])


def test_a_pooled_connection_keeps_no_rows_once_read(database: Any) -> None:
    """The Transformer a pooled connection keeps lets go of the result it read (it would
    hold a large value until the next batch), and of one whose rows could not be read."""
    with PooledConnection.connect(database.app_url, autocommit=True) as conn:
        assert run_message(conn, b"SELECT repeat('x', 1000) AS big")[0][0]["big"] == "x" * 1000
        assert conn.spelling.pgresult is None
        with pytest.raises(psycopg.DataError):
            run_message(conn, b"SELECT 'infinity'::date AS day")
        assert conn.spelling.pgresult is None


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ("SELECT 1 AS a; SELECT 1 / 0 AS boom; SELECT 3 AS c", psycopg.errors.DivisionByZero),
        ("SELECT * FROM no_such_table", psycopg.errors.UndefinedTable),
        ("SELEC 1", psycopg.errors.SyntaxError),
        ("SELECT 'x'::uuid", psycopg.errors.InvalidTextRepresentation),
        ("COPY (SELECT 1) TO STDOUT", psycopg.ProgrammingError),
        # rows the app could not load come before the failing statement: the server's error
        ("SELECT 'infinity'::date AS day; SELECT 1 / 0 AS boom", psycopg.errors.DivisionByZero),
        ("SELECT 1 AS a; COPY (SELECT 1) TO STDOUT; SELECT 1 / 0", psycopg.ProgrammingError),
    ],
)
def test_errors_are_the_cursors(database: Any, message: str, error: type[Exception]) -> None:
    with closing(psycopg.connect(database.app_url)) as conn, pytest.raises(error) as by_cursor:
        _by_cursor(conn, message)
    with (
        closing(PooledConnection.connect(database.app_url)) as pooled,
        pytest.raises(error) as by_message,
    ):
        run_message(pooled, message.encode())
    assert type(by_message.value) is type(by_cursor.value)
    if isinstance(by_cursor.value, psycopg.errors.DatabaseError) and by_cursor.value.sqlstate:
        assert by_message.value.sqlstate == by_cursor.value.sqlstate  # type: ignore[attr-defined]
        assert str(by_message.value) == str(by_cursor.value)


def test_a_failed_message_undoes_its_earlier_statements_and_leaves_the_connection_idle(
    database: Any,
) -> None:
    conn = PooledConnection.connect(database.owner_admin_url, autocommit=True)  # may make a table
    run_message(conn, b"CREATE TEMP TABLE kept (v int)")
    with pytest.raises(psycopg.errors.DivisionByZero):
        run_message(conn, b"INSERT INTO kept VALUES (1); SELECT 1 / 0; INSERT INTO kept VALUES (2)")
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert run_message(conn, b"SELECT count(*) AS n FROM kept") == [[{"n": 0}]]
    conn.close()


def test_a_closed_or_lost_connection_is_an_operational_error(database: Any) -> None:
    conn = PooledConnection.connect(database.app_url, autocommit=True)
    conn.close()
    with pytest.raises(psycopg.OperationalError):
        run_message(conn, b"SELECT 1")
    conn = PooledConnection.connect(database.app_url, autocommit=True)
    try:
        with psycopg.connect(database.owner_admin_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,))
        with pytest.raises(psycopg.OperationalError):
            run_message(conn, b"SELECT 1")
    finally:
        conn.close()
