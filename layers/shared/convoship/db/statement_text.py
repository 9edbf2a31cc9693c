"""A statement's text with its values in it, for the simple-protocol batches (db/read_batch.py).

psycopg's ClientCursor.mogrify does this for any query, and on every call encodes the text,
looks its template up, reorders the values and decodes the result back to text. A chat
turn sends five such statements; here each query text is parsed into its template once, and
every value is still spelled by psycopg (Transformer.as_literal: its quoting, escaping and
type cast). Only %s and %(name)s placeholders (and %% for a percent sign) are read, as
psycopg reads them; any other query (a psycopg sql.Composed, %b or %t placeholders) goes
through mogrify unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import psycopg
from psycopg import abc

_PLACEHOLDER = re.compile(rb"%%|%\((\w+)\)s|%s")


class _Unread(ValueError):
    """A query this module leaves to psycopg."""


@lru_cache(maxsize=256)
def _template(query: str, encoding: str) -> tuple[tuple[bytes, ...], tuple[str | int, ...]]:
    """The text between the placeholders, and the value each placeholder takes (a name, or
    the position of a %s). _Unread if the query mixes both kinds or has another one."""
    raw = query.encode(encoding)
    texts: list[bytes] = []
    names: list[str | int] = []
    text, start = b"", 0
    for match in _PLACEHOLDER.finditer(raw):
        text += raw[start : match.start()]
        start = match.end()
        if match.group(0) == b"%%":
            text += b"%"
            continue
        texts.append(text)
        text = b""
        names.append(match.group(1).decode(encoding) if match.group(1) else len(names))
    texts.append(text + raw[start:])
    if len({type(name) for name in names}) > 1 or b"%" in _PLACEHOLDER.sub(b"", raw):
        raise _Unread(query)
    return tuple(texts), tuple(names)


def statement_text(
    conn: psycopg.Connection[Any],
    transformer: abc.Transformer,
    query: Any,
    params: Mapping[str, Any] | Sequence[Any] | None,
) -> bytes:
    """The statement as the server is to receive it (in the connection's encoding)."""
    if isinstance(query, str):
        encoding = transformer.encoding
        if params is None:
            return query.encode(encoding)  # as psycopg sends it: no placeholder is read
        try:
            texts, names = _template(query, encoding)
            by_position = bool(names) and isinstance(names[0], int)
            if isinstance(params, Sequence) and not isinstance(params, (str, bytes)):
                if len(params) != len(names) or (names and not by_position):
                    raise _Unread(query)
            elif not isinstance(params, Mapping) or by_position:
                raise _Unread(query)  # as psycopg: positions take a sequence, names a mapping
            literal = transformer.as_literal
            parts = [texts[0]]
            for name, text in zip(names, texts[1:], strict=True):
                value = params[name]  # type: ignore[index]
                parts.append(literal(value))
                parts.append(text)
            return b"".join(parts)
        except (_Unread, LookupError, TypeError):
            pass  # psycopg's own reading (and its own error, for a wrong query or values)
    return psycopg.ClientCursor(conn).mogrify(query, params).encode(transformer.encoding)
