"""Scrubbing secret values from text in every spelling a service may echo them in.

Rather than listing every escaped form of a value, the text is also read through decoded
views (secrets.views: JSON escapes in any mix and JSON inside JSON, percent-encoding once
or twice, HTML character references, JSON then percent then JSON, and a loose reading
without whitespace or invisible characters, NFKC-normalised), each mapping back to the
original. Matches are case-insensitive (a host name comes back lower-cased), so letter
case, `%2f`/`%2F` and `\\u00e9`/`\\u00E9` need no list of their own. Encodings that are not
per-character escapes are searched as needles: hex (bare, with `:` or `-` between bytes,
as `\\x73` escapes), and base64 / base64url (the stretch of the encoding the value alone
determines, at each of the three byte alignments, so it is found inside
`base64("user:" + value)` too, padded or not).

Only whole values are scrubbed, never a text's tail that merely begins one: what replaces a
value must say nothing about a guess that is not the value. A text that must be cut (a
tool response over its size cap) is scrubbed whole first, then cut (`keep`): a value that
starts before the cut goes whole, so none of it is left behind. The text read must then
reach `Scrubber.reach` characters past the cut.

A body that comes as bytes (a tool's response) is scrubbed as bytes first (`Scrubber.bytes`):
the value encoded in UTF-16 and UTF-32, either byte order, without the NUL bytes at its
ends, so it is found at any alignment (after an odd byte, under a wrong or missing charset,
or as ASCII with a NUL after each character), then read as text in its encoding
(security/body_encoding.py) and scrubbed as text (UTF-8 spellings: there, a value the size
cap splits is replaced whole before the cut).

Every search is `str.find` on folded text, moving past each match: linear in the text.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

from convoship.secrets.views import fold, loosened, views

SCRUBBED = "[secret]"
_MIN_ENCODED = 8  # shorter base64 stretches would match unrelated text
# The longest spelling found, in UTF-8 bytes per byte of the value: HTML escaped twice
# (`"` as `&amp;quot;`) takes 10; JSON inside JSON, percent-encoding twice and hex escapes
# less. What `reach` promises for a cut text.
SPELLING_BYTES_PER_BYTE = 16


def _base64_stretches(data: bytes) -> set[str]:
    """The part of the base64 and base64url encodings of data that data alone decides,
    wherever it starts in the encoded bytes (three alignments)."""
    stretches = set()
    for offset in range(3):
        encoded = base64.b64encode(bytes(offset) + data).decode("ascii")
        first, last = -(-8 * offset // 6), 8 * (offset + len(data)) // 6
        stretch = encoded[first:last]
        if len(stretch) >= _MIN_ENCODED:
            stretches.add(stretch)
            stretches.add(stretch.translate(str.maketrans("+/", "-_")))
    return stretches


def _utf16(char: str) -> str:
    code = ord(char)
    if code <= 0xFFFF:
        return char
    return chr(0xD7C0 + (code >> 10)) + chr(0xDC00 | code & 0x3FF)


def needles(value: str) -> set[str]:
    """What to look for, folded, in the exact views of a text, for one value."""
    data = value.encode("utf-8", "surrogatepass")
    pairs = [f"{byte:02x}" for byte in data]
    found = {
        value,
        data.decode("latin-1"),  # its UTF-8 bytes read as Latin-1, or as `\x73` escapes
        data.hex(),
        ":".join(pairs),
        "-".join(pairs),
        "".join(f"\\x{pair}" for pair in pairs),
    }
    if any(ord(c) > 0xFFFF for c in value):  # \ud83d\ude00: a JSON view yields surrogates
        found.add("".join(_utf16(c) for c in value))
    found |= _base64_stretches(data)
    return {fold(n) for n in found if n}


# A value as bytes in these encodings, NUL bytes at its ends dropped: where a body's bytes
# are searched (UTF-8 is searched in the text, in all its spellings).
BYTE_ENCODINGS = ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")
_MARKER_BYTES = {encoding: SCRUBBED.encode(encoding) for encoding in BYTE_ENCODINGS}
ByteNeedles = frozenset[tuple[bytes, bytes]]  # (needle, what replaces it)


def byte_needles(value: str) -> set[tuple[bytes, bytes]]:
    """(folded needle, replacement) per encoding: the replacement is SCRUBBED encoded alike,
    with as many bytes dropped at each end as the needle, so what follows stays aligned."""
    found = set()
    for encoding in BYTE_ENCODINGS:
        data = value.encode(encoding, "surrogatepass")
        needle = data.strip(b"\0")
        if not needle:
            continue
        lead = len(data) - len(data.lstrip(b"\0"))
        trail = len(data) - len(data.rstrip(b"\0"))
        marker = _MARKER_BYTES[encoding]
        found.add((needle.lower(), marker[lead : len(marker) - trail]))
    return found


def scrub_bytes(data: bytes, needles: ByteNeedles) -> bytes:
    """data with every byte needle replaced (ASCII letters matched in either case)."""
    folded = data.lower()
    spans: list[tuple[int, int, bytes]] = []
    for needle, replacement in needles:
        at = folded.find(needle)
        while at >= 0:
            spans.append((at, at + len(needle), replacement))
            at = folded.find(needle, at + len(needle))
    if not spans:
        return data
    out: list[bytes] = []
    position = 0
    for start, end, replacement in sorted(spans):
        if start < position:  # overlaps one replaced already: that one reaches on
            position = max(position, end)
            continue
        out += [data[position:start], replacement]
        position = end
    out.append(data[position:])
    return b"".join(out)


def loose_needles(exact: Iterable[str]) -> set[str]:
    """The needles of loose views: each exact needle read as a loose view reads text."""
    return {n for n in (fold(loosened(needle)) for needle in exact) if n}


def reach(value: str) -> int:
    """How many bytes of text one spelling of value may take, at most."""
    return SPELLING_BYTES_PER_BYTE * len(value.encode("utf-8", "surrogatepass"))


def _spans(text: str, exact: frozenset[str], loose: frozenset[str]) -> list[list[int]]:
    """Where any needle occurs, in any view, as merged spans of text."""
    spans: list[tuple[int, int]] = []
    exact_views, loose_views = views(text)
    for group, group_needles in ((exact_views, exact), (loose_views, loose)):
        for view in group:
            for needle in group_needles:
                at = view.text.find(needle)
                while at >= 0:
                    spans.append(view.span(at, at + len(needle)))
                    at = view.text.find(needle, at + len(needle))
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged


def scrub_text(
    text: str, exact: frozenset[str], loose: frozenset[str], *, keep: int | None = None
) -> str:
    """text with every occurrence of every needle, in every view, replaced by SCRUBBED;
    keep: only what text[:keep] becomes (a value that starts before keep goes whole)."""
    if not exact or not text:
        return text if keep is None else text[:keep]
    limit = len(text) if keep is None else keep
    out: list[str] = []
    position = 0
    for start, end in _spans(text, exact, loose):
        if start >= limit:
            break
        out += [text[position:start], SCRUBBED]
        position = end
    out.append(text[position:limit] if position < limit else "")
    return "".join(out)


class Scrubber:
    """Scrubs the values added so far. Adding swaps in a new set of needles, so threads
    that scrub meanwhile see the old set or the new one, never half of one."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._needles: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())
        self._byte_needles: ByteNeedles = frozenset()
        self.reach = 0  # bytes: the longest spelling of any value added
        for value in values:
            self.add(value)

    def add(self, value: str) -> None:
        if value:
            exact = needles(value)
            self._needles = (
                self._needles[0] | exact,
                self._needles[1] | loose_needles(exact),
            )
            self._byte_needles = self._byte_needles | byte_needles(value)
            self.reach = max(self.reach, reach(value))

    def __bool__(self) -> bool:
        return bool(self._needles[0])

    def text(self, text: str, *, keep: int | None = None) -> str:
        exact, loose = self._needles
        return scrub_text(text, exact, loose, keep=keep)

    def bytes(self, data: bytes) -> bytes:
        """data with every value, encoded in UTF-16 or UTF-32, replaced."""
        needles = self._byte_needles
        return scrub_bytes(data, needles) if needles and data else data

    def json(self, value: Any) -> Any:
        """A JSON value with every string in it scrubbed, keys included."""
        if not self._needles[0]:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(k): self.json(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.json(v) for v in value]
        return value
