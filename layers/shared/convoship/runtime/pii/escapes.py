"""Characters written as escapes outside URLs: HTML character references (`&#64;`, `&#x40;`,
`&commat;`) and the backslash escapes of JSON, JavaScript and Python source (`\\u0040`,
`\\x40`, `\\U00000040`, `\\u{40}`, and `\\n`, `\\t`, `\\r` as the whitespace they stand for).

`jane.doe&#64;gmail.com` and `jane.doe\\u0040gmail.com` then hold an email the detectors see;
urlcoded.py folds these into the same decoded view as percent escapes, each decoded character
mapped back onto its whole escape. An escape of a character that is not printable (`&#0;`,
`\\u0000`) stays as written, and so does a backslash before anything else (`C:\\Users`).
"""

from __future__ import annotations

import re

_REFERENCE_RE = re.compile(
    r"&(?:#(?:(?P<decimal>[0-9]{1,7}+)|[xX](?P<hex>[0-9a-fA-F]{1,6}+))|(?P<name>[a-zA-Z]{2,8}+));?"
)
_BACKSLASH_RE = re.compile(
    r"\\(?:u(?P<u>[0-9a-fA-F]{4})|u\{(?P<braced>[0-9a-fA-F]{1,6})\}|x(?P<x>[0-9a-fA-F]{2})"
    r"|U(?P<wide>[0-9a-fA-F]{8})|(?P<letter>[ntr]))"
)
# Named references for the characters that make up the entities (`&commat;`, `&period;` ...).
_NAMED = {"commat": "@", "period": ".", "plus": "+", "hyphen": "-", "dash": "-", "lowbar": "_",
          "num": "#", "colon": ":", "sol": "/", "nbsp": " ", "amp": "&"}  # fmt: skip
_WHITESPACE = {"n": "\n", "t": "\t", "r": "\r"}


def escape_changes(text: str) -> list[tuple[int, int, str]]:
    """(start, end, the character text[start:end] stands for) of every escape in text."""
    changes: list[tuple[int, int, str]] = []
    character: str | None
    if "&" in text:
        for m in _REFERENCE_RE.finditer(text):
            if m.group("name"):
                character = _NAMED.get(m.group("name").lower())
            else:
                number = m.group("decimal")
                character = _character(int(number) if number else int(m.group("hex"), 16))
            if character is not None and (m.group("name") is None or m.group().endswith(";")):
                changes.append((m.start(), m.end(), character))
    if "\\" in text:
        for m in _BACKSLASH_RE.finditer(text):
            letter = m.group("letter")
            if letter:
                character = _WHITESPACE[letter]
            else:
                digits = m.group("u") or m.group("braced") or m.group("x") or m.group("wide")
                character = _character(int(digits, 16))
            if character is not None:
                changes.append((m.start(), m.end(), character))
    return changes


def _character(code: int) -> str | None:
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    character = chr(code)
    return character if character.isprintable() else None
