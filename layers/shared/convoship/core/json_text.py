"""JSON text from outside (request bodies, model providers), parsed into values that the
database and the response renderer can always take.

JSON may spell half a UTF-16 surrogate pair alone (`"\\ud800"`) and a NUL (`"\\u0000"`):
Python's json accepts both, then the first UTF-8 encode fails on the surrogate (the
database driver, the response renderer) and PostgreSQL refuses the NUL, far from the input.
Python's json also takes NaN and Infinity, which are not JSON, turns 1e400 into infinity,
and raises RecursionError rather than ValueError on deep nesting.
"""

from __future__ import annotations

import json
import math
import re
from functools import cache
from typing import Any, NoReturn

# A surrogate escape, or one written raw: UTF-8's bytes for U+D800-U+DFFF (ED A0-BF xx),
# which json.loads(bytes) decodes with 'surrogatepass' as it does every encoding it reads.
_SURROGATE_IN_UTF8 = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}|\xed[\xa0-\xbf]")
_SPELLED_UNSTORABLE = re.compile(r"\\u(?:[dD][89a-fA-F][0-9a-fA-F]{2}|0000)")
_SPELLED_UNSTORABLE_BYTES = re.compile(_SPELLED_UNSTORABLE.pattern.encode())
Loc = list[str | int]


# The classes of the 2,048 surrogates are compiled on first use: sre fills in such a range
# one code point at a time in Python (~2.6 M instructions each, on every cold start of every
# function that reads JSON bodies), and only text that spells a surrogate or a NUL, or a body
# in UTF-16 or UTF-32, needs them.
@cache
def _surrogate_in_text() -> re.Pattern[str]:
    """A surrogate escape, or a surrogate decoded from a body's code units."""
    return re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}|[\ud800-\udfff]")


@cache
def _lone_surrogate() -> re.Pattern[str]:
    return re.compile("[\ud800-\udfff]")


@cache
def _unstorable() -> re.Pattern[str]:
    return re.compile("[\ud800-\udfff\x00]")


def _not_json(constant: str) -> NoReturn:
    raise ValueError(f"{constant} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text} is too large for a double")
    return value


def parse_json(data: str | bytes) -> Any:
    """json.loads of strict JSON: NaN, Infinity, numbers past a double (1e400) and nesting
    too deep for the parser are a ValueError like every other failure."""
    try:
        return json.loads(data, parse_constant=_not_json, parse_float=_finite)
    except RecursionError:
        raise ValueError("the JSON nests too deeply") from None


def may_hold_a_surrogate(data: bytes) -> bool:
    """Whether JSON text may parse into a string holding a surrogate: a surrogate escape
    (paired or not), or a surrogate's code unit written raw, which json.loads(bytes) takes
    too (it decodes with 'surrogatepass': UTF-8's ED A0 80, a UTF-16 body's lone D800). A
    quick test that spares walking the parsed value in the common case."""
    encoding = json.detect_encoding(data)
    if encoding == "utf-8":
        return _SURROGATE_IN_UTF8.search(data) is not None
    try:
        text = data.decode(encoding, "surrogatepass")
    except UnicodeDecodeError:
        return False  # json.loads cannot read it either
    return _surrogate_in_text().search(text) is not None


def utf8_carries(text: str) -> bool:
    """Whether UTF-8 can carry the text: False when it holds half a surrogate pair (the one
    thing a Python str holds that no UTF-8 text can)."""
    if text.isascii():
        return True
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def lone_surrogate_at(value: Any, loc: Loc) -> tuple[Loc, str] | None:
    """Where a lone surrogate in a parsed JSON value is (loc extended), and a message; None
    when there is none. Iterative: the value may nest as deep as json would parse. The
    message names the place only, never the text: it may be a write-only secret value."""
    lone_surrogate = _lone_surrogate()
    todo: list[tuple[Any, Loc]] = [(value, loc)]
    while todo:
        item, where = todo.pop()
        if isinstance(item, str):
            if lone_surrogate.search(item):
                return where, "contains a lone UTF-16 surrogate"
        elif isinstance(item, dict):
            for key, child in item.items():
                if lone_surrogate.search(key):
                    return where, "a key here contains a lone UTF-16 surrogate"
                todo.append((child, [*where, key]))
        elif isinstance(item, list):
            todo += [(child, [*where, index]) for index, child in enumerate(item)]
    return None


def storable(value: Any) -> Any:
    """value (changed in place) with each lone surrogate and NUL in its strings and keys
    replaced by U+FFFD, as a lenient UTF-8 decoder would."""

    unstorable = _unstorable()

    def fixed(text: str) -> str:
        return unstorable.sub("\ufffd", text)

    if isinstance(value, str):
        return fixed(value)
    todo = [value]
    while todo:
        item = todo.pop()
        if isinstance(item, list):
            for index, child in enumerate(item):
                if isinstance(child, str):
                    item[index] = fixed(child)
                elif isinstance(child, list | dict):
                    todo.append(child)
        elif isinstance(item, dict):
            for key in list(item):
                child = item.pop(key)
                if isinstance(child, str):
                    child = fixed(child)
                elif isinstance(child, list | dict):
                    todo.append(child)
                item[fixed(key)] = child
    return value


def parse_storable_json(data: str | bytes) -> Any:
    """parse_json, then storable when the text spells a surrogate or a NUL (what a model
    sends: its text is kept, never refused)."""
    value = parse_json(data)
    if isinstance(data, bytes):
        spelled = _SPELLED_UNSTORABLE_BYTES.search(data) is not None
    else:
        spelled = _SPELLED_UNSTORABLE.search(data) is not None
    return storable(value) if spelled else value
