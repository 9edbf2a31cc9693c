"""Scrubbing secret values from text in every spelling a service may echo them in.

Rather than listing every escaped form of a value, the text is also read through decoded
views, each remembering where its characters came from: JSON string escapes (`\\"`, `\\/`,
`\\u00E9`, in any mix, and JSON inside a JSON string), percent-encoding (either hex case,
`+` as a space or not) and JSON then percent-encoding. Matches are case-insensitive (a
host name comes back lower-cased), so letter case, `%2f`/`%2F` and `\\u00e9`/`\\u00E9` need
no list of their own. Encodings that are not per-character escapes are searched as
needles: hex, and base64 / base64url (the stretch of the encoding the value alone
determines, at each of the three byte alignments, so it is found inside
`base64("user:" + value)` too, padded or not).

Every search is `str.find` on folded text, moving past each match: linear in the text.
A cut text (a truncated tool response, a reply stopped by its token limit) may end in the
first part of a value: `cut=True` scrubs a tail that begins a needle, ignoring a trailing
half escape (`%2`, `\\u00`).
"""

from __future__ import annotations

import base64
import re
from bisect import bisect_left
from collections.abc import Callable, Iterable
from typing import Any

SCRUBBED = "[secret]"
MIN_TAIL = 6  # a cut tail shorter than this gives too little away to be worth scrubbing
_MIN_ENCODED = 8  # shorter base64 stretches would match unrelated text
_JSON_ESCAPE = re.compile(r'\\(?:u[0-9A-Fa-f]{4}|["\\/bfnrt])')
_JSON_SIMPLE = {
    '"': '"',
    "\\": "\\",
    "/": "/",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
}
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_PERCENT_PLUS = re.compile(r"%[0-9A-Fa-f]{2}|\+")
_PARTIAL_ESCAPE = re.compile(r"(?:%[0-9A-Fa-f]?|\\(?:u[0-9A-Fa-f]{0,3})?)\Z")


class _Fold(dict[int, str]):
    """Lower case, one character for one (str.lower turns a few into two)."""

    def __missing__(self, code: int) -> str:
        lowered = chr(code).lower()
        self[code] = folded = lowered if len(lowered) == 1 else chr(code)
        return folded


_FOLD = _Fold()


def fold(text: str) -> str:
    return text.lower() if text.isascii() else text.translate(_FOLD)


def _json_char(match: re.Match[str]) -> str:
    escape = match.group(0)
    return chr(int(escape[2:], 16)) if escape[1] == "u" else _JSON_SIMPLE[escape[1]]


def _percent_char(match: re.Match[str]) -> str:
    return " " if match.group(0) == "+" else chr(int(match.group(0)[1:], 16))


class _View:
    """text with every escape matched by pattern decoded to one character, folded; spans
    of the view map back to spans of the source (and through it to the original)."""

    def __init__(
        self,
        source: str,
        pattern: re.Pattern[str] | None = None,
        decode: Callable[[re.Match[str]], str] | None = None,
        parent: _View | None = None,
    ) -> None:
        self.parent = parent
        self.escapes: list[int] = []  # view index of each decoded escape
        self.starts: list[int] = []  # its span in the source
        self.ends: list[int] = []
        self.shift: list[int] = [0]  # source chars minus view chars before each escape
        if pattern is None or decode is None:
            self.raw = source
            self.text = fold(source)
            return
        pieces: list[str] = []
        last = size = 0
        for match in pattern.finditer(source):
            pieces.append(source[last : match.start()])
            size += match.start() - last
            pieces.append(decode(match))
            self.escapes.append(size)
            self.starts.append(match.start())
            self.ends.append(match.end())
            self.shift.append(self.shift[-1] + match.end() - match.start() - 1)
            size += 1
            last = match.end()
        pieces.append(source[last:])
        self.raw = "".join(pieces)  # decoded; text is what is searched
        self.text = fold(self.raw)

    def _start(self, index: int) -> int:
        k = bisect_left(self.escapes, index)
        if k < len(self.escapes) and self.escapes[k] == index:
            return self.starts[k]
        return index + self.shift[k]

    def _end(self, index: int) -> int:
        """Where view character index - 1 ends in the source."""
        k = bisect_left(self.escapes, index - 1)
        if k < len(self.escapes) and self.escapes[k] == index - 1:
            return self.ends[k]
        return index + self.shift[k]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of view[start:end]."""
        span = (self._start(start), self._end(end))
        return self.parent.span(*span) if self.parent is not None else span


def _views(text: str) -> list[_View]:
    """The text as written and as decoded: JSON (up to three levels: JSON in a JSON string
    in a JSON string), percent-encoding, and JSON then percent-encoding."""
    views = [_View(text)]
    json_view = views[0]
    for _ in range(3):
        if "\\" not in json_view.raw:
            break
        json_view = _View(json_view.raw, _JSON_ESCAPE, _json_char, parent=json_view)
        views.append(json_view)
    if "%" in text or "+" in text:
        views.append(_View(text, _PERCENT, _percent_char))
        views.append(_View(text, _PERCENT_PLUS, _percent_char))
    if json_view is not views[0] and ("%" in json_view.raw or "+" in json_view.raw):
        views.append(_View(json_view.raw, _PERCENT_PLUS, _percent_char, parent=json_view))
    return views


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


def needles(value: str) -> dict[str, int]:
    """What to look for, folded, in the decoded views of a text, for one value; each with
    the length a cut tail must have to be scrubbed (MIN_TAIL characters of the value)."""
    data = value.encode("utf-8", "surrogatepass")
    found = {value: MIN_TAIL, data.decode("latin-1"): MIN_TAIL, data.hex(): 2 * MIN_TAIL}
    if any(ord(c) > 0xFFFF for c in value):  # \ud83d\ude00: a JSON view yields surrogates
        found["".join(_utf16(c) for c in value)] = MIN_TAIL
    for stretch in _base64_stretches(data):
        found[stretch] = 4 * MIN_TAIL // 3
    return {fold(n): tail for n, tail in found.items() if n}


def _utf16(char: str) -> str:
    code = ord(char)
    if code <= 0xFFFF:
        return char
    return chr(0xD7C0 + (code >> 10)) + chr(0xDC00 | code & 0x3FF)


def _tail_start(view: str, needle: str, min_tail: int) -> int | None:
    """Where the longest tail of view that begins needle (at least min_tail long) starts."""
    if len(needle) <= min_tail:
        return None
    window = max(0, len(view) - len(needle) + 1)
    anchor = needle[:min_tail]
    at = view.find(anchor, window)
    while at >= 0:
        if needle.startswith(view[at:]):
            return at
        at = view.find(anchor, at + 1)
    return None


def scrub_text(text: str, needle_tails: dict[str, int], *, cut: bool = False) -> str:
    """text with every occurrence of every needle, in every view, replaced by SCRUBBED."""
    if not needle_tails or not text:
        return text
    rest = ""
    if cut and (partial := _PARTIAL_ESCAPE.search(text)) is not None:
        text, rest = text[: partial.start()], text[partial.start() :]
    spans: list[tuple[int, int]] = []
    for view in _views(text):
        for needle, min_tail in needle_tails.items():
            at = view.text.find(needle)
            while at >= 0:
                spans.append(view.span(at, at + len(needle)))
                at = view.text.find(needle, at + len(needle))
            if cut and (start := _tail_start(view.text, needle, min_tail)) is not None:
                spans.append((view.span(start, len(view.text))[0], len(text)))
                rest = ""
    if not spans:
        return text + rest
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out: list[str] = []
    position = 0
    for start, end in merged:
        out += [text[position:start], SCRUBBED]
        position = end
    out.append(text[position:])
    return "".join(out) + rest


class Scrubber:
    """Scrubs the values added so far. Adding swaps in a new set of needles, so threads
    that scrub meanwhile see the old set or the new one, never half of one."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._needles: dict[str, int] = {}
        for value in values:
            self.add(value)

    def add(self, value: str) -> None:
        if value:
            self._needles = {**self._needles, **needles(value)}

    def __bool__(self) -> bool:
        return bool(self._needles)

    def text(self, text: str, *, cut: bool = False) -> str:
        return scrub_text(text, self._needles, cut=cut) if self._needles else text

    def json(self, value: Any) -> Any:
        """A JSON value with every string in it scrubbed, keys included."""
        if not self._needles:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(k): self.json(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.json(v) for v in value]
        return value
