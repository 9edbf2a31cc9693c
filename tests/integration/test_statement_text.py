"""A batch's statements are spelled byte for byte as psycopg's mogrify spells them, hostile
values included, and a query it does not read is left to psycopg (same text, same error)."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg import adapt, sql
from psycopg.types.json import Jsonb

from convoship.db.statement_text import statement_text


class _OwnUuid(uuid.UUID):
    """A UUID of another type: psycopg's to spell, as any subclass."""


class _Size(enum.IntEnum):
    LARGE = 3


HOSTILE = [
    "it's",
    "back\\slash",
    "100%",
    "%(ws)s",
    "%s",
    "%%",
    "'; DROP TABLE workspaces; --",
    "été ✓ \U0001f600",
    "line\nbreak\ttab",
    "\\x00",
    "E'\\''",
    "$$dollar$$",
    "",
]
VALUES: list[Any] = [
    *HOSTILE,
    None,
    0,
    -(2**63),
    2**70,
    True,
    False,
    1.5,
    float("nan"),
    Decimal("12.3400"),
    uuid.UUID("8e0c7d8e-3a9f-4f5e-9a55-1f0e2b9a7c11"),
    # spelled without the Transformer (db/statement_text.py), each the bytes psycopg's are
    uuid.UUID(int=0),
    uuid.UUID(int=2**128 - 1),
    _OwnUuid("8e0c7d8e-3a9f-4f5e-9a55-1f0e2b9a7c11"),
    -1,
    1,
    2**31,
    2**63 - 1,
    2**63,
    -(2**63) - 1,
    -(2**70),
    _Size.LARGE,
    dt.datetime(2026, 12, 2, 1, 2, 3, tzinfo=dt.UTC),
    dt.date(2026, 12, 2),
    b"\x00\xff bytes",
    ["a", "b'c", None],
    Jsonb({"k": "v'%s\\", "n": [1, None, "\u2028"]}),
    Jsonb(HOSTILE),
]


@pytest.fixture
def conn(database: Any) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(database.app_url, autocommit=True) as connection:
        yield connection


def _mogrify(conn: psycopg.Connection[Any], query: Any, params: Any) -> bytes:
    return psycopg.ClientCursor(conn).mogrify(query, params).encode(conn.info.encoding)


@pytest.mark.parametrize("value", VALUES, ids=[f"v{i}" for i in range(len(VALUES))])
def test_each_value_is_spelled_as_psycopg_spells_it(
    conn: psycopg.Connection[Any], value: Any
) -> None:
    tx = adapt.Transformer(conn)
    for query, params in [
        ("SELECT %s AS v", (value,)),
        ("SELECT %(a)s AS v, %(a)s AS w, '%%' AS p", {"a": value, "unused": 1}),
        ("SELECT x FROM (VALUES (%(a)s)) t(x) WHERE '%%s' <> %(b)s", {"a": value, "b": "z"}),
    ]:
        assert statement_text(conn, tx, query, params) == _mogrify(conn, query, params)


def test_a_spelled_statement_reads_back_its_values(conn: psycopg.Connection[Any]) -> None:
    tx = adapt.Transformer(conn)
    for value in HOSTILE:
        text = statement_text(conn, tx, "SELECT %(v)s::text AS v, '%%' AS p", {"v": value})
        assert conn.execute(text).fetchone() == (value, "%")


def test_a_query_without_values_is_sent_as_written(conn: psycopg.Connection[Any]) -> None:
    tx = adapt.Transformer(conn)
    assert statement_text(conn, tx, "SELECT '100%' AS p", None) == b"SELECT '100%' AS p"


def _outcome(spell: Any) -> tuple[Any, ...]:
    try:
        return ("text", spell())
    except Exception as exc:
        return ("error", type(exc), str(exc))


ODD_QUERIES = [
    (sql.SQL("SELECT {} AS v").format(sql.Literal("it's")), None),
    ("SELECT %b AS v", ("x",)),
    ("SELECT %t AS v", ("x",)),
    ("SELECT %(a)s, %(b)b", {"a": 1, "b": 2}),  # a placeholder it does not read
    ("SELECT %s, 100% AS p", ("x",)),  # a stray percent sign
    ("SELECT %s, %s", ("one",)),  # too few
    ("SELECT %s", ("one", "two")),  # too many
    ("SELECT %(a)s", {"b": 1}),  # a name missing
    ("SELECT %(a)s, %s", {"a": 1}),  # both kinds
    ("SELECT %(a)s, %s", {"a": 1, 1: 2}),  # both kinds, a value for each
    ("SELECT %s", "ab"),  # a string is not a sequence of values
    ("SELECT %s", "a"),  # not even of one
    ("SELECT %s", (object(),)),  # no adapter
    ("SELECT %(a)s", ("x",)),  # a name, values by position
    ("SELECT %s", {0: "x"}),  # positions, values by (int) name
    ("SELECT %s, %s", {0: "x", 1: "y"}),
    ("SELECT %s", {0: "x"}.values()),  # neither a sequence nor a mapping
]


@pytest.mark.parametrize(
    ("query", "params"), ODD_QUERIES, ids=[str(i) for i in range(len(ODD_QUERIES))]
)
def test_what_it_does_not_read_is_left_to_psycopg(
    conn: psycopg.Connection[Any], query: Any, params: Any
) -> None:
    """The same text, or the same error, as psycopg's."""
    tx = adapt.Transformer(conn)
    ours = _outcome(lambda: statement_text(conn, tx, query, params))
    assert ours == _outcome(lambda: _mogrify(conn, query, params))


def test_a_nul_in_a_value_is_refused_as_psycopg_refuses_it(
    conn: psycopg.Connection[Any],
) -> None:
    tx = adapt.Transformer(conn)
    with pytest.raises(psycopg.DataError):
        statement_text(conn, tx, "SELECT %s", ("a\x00b",))


def test_one_transformer_spells_every_value_as_a_fresh_one(
    conn: psycopg.Connection[Any],
) -> None:
    """A pooled connection keeps its Transformer across batches (db/connection.py): values
    whose dumper depends on the value (int sizes, list element types) stay spelled right."""
    kept = adapt.Transformer(conn)
    for value in [*VALUES, 1, 2**40, [1, 2], [2**40], ["x"], [None], [uuid.uuid4()], *VALUES]:
        query, params = "SELECT %(a)s AS v", {"a": value}
        assert statement_text(conn, kept, query, params) == _mogrify(conn, query, params)
