"""Text with its URL encoding read: `%40` as `@`, `%2B` as `+`, `%C3%A9` as `é`, and in a
query string (`?a=b&c=d`) `+` as a space, except at a value's start (`?tel=+44...` is a plus);
and with the HTML and backslash escapes of escapes.py read too (`&#64;`, `\\u0040`).

`https://x.test/?email=jane.doe%40gmail.com` then holds an email the detectors see. Like
normalize.py, the view maps each of its characters back onto what it came from (`@` onto
`%40`), so a redaction covers the encoded original. Escapes that do not make a printable
character (`%00`, `%0A`, half of a UTF-8 sequence) stay as written.
"""

from __future__ import annotations

import re

from convoship.runtime.pii.escapes import escape_changes
from convoship.runtime.pii.normalize import Normalized

_ESCAPES_RE = re.compile(r"(?:%[0-9A-Fa-f]{2})++")
_QUERY_RE = re.compile(r"\?[^\s#]*+")  # from `?` to the end of the URL


def url_decoded(text: str) -> Normalized:
    """The decoded view of text (text itself, no map, when nothing in it is encoded)."""
    changes = _changes(text)
    if not changes:
        return Normalized(text)
    pieces: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    done = 0
    for start, end, decoded in changes:
        pieces.append(text[done:start])
        starts.extend(range(done, start))
        ends.extend(range(done + 1, start + 1))
        pieces.append(decoded)
        starts.append(start)
        ends.append(end)
        done = end
    pieces.append(text[done:])
    starts.extend(range(done, len(text)))
    ends.extend(range(done + 1, len(text) + 1))
    return Normalized("".join(pieces), starts, ends)


def _changes(text: str) -> list[tuple[int, int, str]]:
    """(start, end, the one character text[start:end] decodes to), in order."""
    changes: list[tuple[int, int, str]] = []
    if "%" in text:
        for run in _ESCAPES_RE.finditer(text):
            changes += _decoded_escapes(run.start(), bytes.fromhex(run.group().replace("%", "")))
    if "?" in text and "+" in text:
        for query in _QUERY_RE.finditer(text):
            if "=" in query.group():
                changes += [
                    (i, i + 1, " ")
                    for i in range(query.start() + 1, query.end())
                    if text[i] == "+" and text[i - 1] not in "=&?"
                ]
    changes += escape_changes(text)
    return _apart(sorted(changes)) if changes else changes


def _apart(changes: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """changes without any that overlaps the one before it (each character is read once)."""
    kept: list[tuple[int, int, str]] = []
    for change in changes:
        if not kept or change[0] >= kept[-1][1]:
            kept.append(change)
    return kept


def _decoded_escapes(start: int, raw: bytes) -> list[tuple[int, int, str]]:
    """Each printable character the escapes from `start` make (three characters a byte)."""
    changes = []
    index = 0
    while index < len(raw):
        for size in (1, 2, 3, 4):
            try:
                character = raw[index : index + size].decode("utf-8")
            except UnicodeDecodeError:
                continue
            if character.isprintable():
                changes.append((start + 3 * index, start + 3 * (index + size), character))
            break
        else:
            size = 1  # not the start of a character: stays as written
        index += size
    return changes
