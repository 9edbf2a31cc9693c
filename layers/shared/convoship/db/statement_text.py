"""A statement's text with its values in it, for the simple-protocol batches (db/read_batch.py).

This is psycopg's ClientCursor.mogrify without the objects it makes on every call (a cursor,
its query object, the text decoded and encoded again). The steps are psycopg's own: its
cached template of the query (`_query2pg_client`, placeholders read as psycopg reads them),
its check and ordering of the values (`validate_and_reorder_params`, with its errors), each
value spelled by the connection's Transformer (`as_literal`: quoting, escaping, type cast),
joined as psycopg joins them. Those two helpers are psycopg internals: psycopg is pinned
(constraints.txt), and tests/integration/test_statement_text*.py compare the bytes and the
errors with mogrify's. A query that is not text (a psycopg sql.Composed) goes to mogrify.

Four kinds of value are spelled here, in the bytes psycopg's default dumpers give them,
without its dumper lookup and Python-level dumpers: a UUID (32 hex digits, quoted, cast
to uuid), an int (its digits; a negative one after a space, so `-` never follows `-`), a
bool and None. Each is exactly that type (a subclass goes to psycopg), and none can hold a
quote or a backslash. They are most of a chat turn's values: about 110,000 instructions of
a turn (of 3.2 million) went to spelling them through the Transformer. Everything else
(text, JSON, dates, bytes, lists, numbers of other types) is psycopg's. A dumper registered
on a connection for one of those four types would not be used: the project registers none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

import psycopg
from psycopg import abc
from psycopg._queries import (
    MAX_CACHED_STATEMENT_LENGTH,
    MAX_CACHED_STATEMENT_PARAMS,
    PostgresQuery,
    _query2pg_client,
    _query2pg_client_nocache,
)


def statement_text(
    conn: psycopg.Connection[Any],
    transformer: abc.Transformer,
    query: Any,
    params: Mapping[str, Any] | Sequence[Any] | None,
) -> bytes:
    """The statement as the server is to receive it (in the connection's encoding)."""
    if not isinstance(query, str):
        return psycopg.ClientCursor(conn).mogrify(query, params).encode(transformer.encoding)
    encoding = transformer.encoding
    raw = query.encode(encoding)
    if params is None:
        return raw  # as psycopg sends it: no placeholder is read
    cached = len(raw) <= MAX_CACHED_STATEMENT_LENGTH and len(params) <= MAX_CACHED_STATEMENT_PARAMS
    template_of = _query2pg_client if cached else _query2pg_client_nocache
    template, order, parts = template_of(raw, encoding)
    values = PostgresQuery.validate_and_reorder_params(parts, params, order)
    literal = transformer.as_literal
    spelled = []
    for value in values:  # by exact type: a subclass (an IntEnum, a UUID's) is psycopg's
        kind = type(value)
        if kind is UUID:
            spelled.append(b"'%s'::uuid" % value.hex.encode())
        elif kind is int:
            spelled.append(b"%d" % value if value >= 0 else b" %d" % value)
        elif kind is bool:
            spelled.append(b"true" if value else b"false")
        elif value is None:
            spelled.append(b"NULL")
        else:
            spelled.append(literal(value))
    return template % tuple(spelled)
