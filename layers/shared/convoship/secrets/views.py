"""Decoded readings ("views") of a text, for scrubbing: each remembers where its characters
came from, so a match found in a view maps back to a span of the original text.

A view is the text with every match of one pattern replaced by what it decodes to (one
character for an escape, nothing for an invisible character, a normalised form for a
character cluster). The view's text is built by `re.sub`; where each replacement came from
is worked out only when a match needs mapping back, which is rare, so reading a text that
holds no secret costs little more than the substitutions.

Views decode, in the chains `views()` builds: JSON string escapes (up to three levels of
JSON inside JSON), percent-encoding (with `+` as a space or not, and twice), HTML
character references (twice, for `&amp;quot;`), JSON then percent then JSON, and a "loose"
reading: NFKC (full-width forms, decomposed accents) without whitespace or invisible
characters (line-wrapped values, header folding, zero-width and soft hyphens).
A text holding NUL or U+FFFD (UTF-16 or UTF-32 read as UTF-8 or Latin-1: a NUL or U+FFFD
after each character) is read without them before any chain runs, so every view, exact or
loose, decodes the characters as they were meant; nothing else pays for it.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Callable

Decode = Callable[[re.Match[str]], str]

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
# Bounded digits: a reference padded with zeros is no spelling a service produces.
_HTML_REF = re.compile(r"&(?:#[0-9]{1,8}|#[xX][0-9A-Fa-f]{1,7}|[A-Za-z][A-Za-z0-9]{1,31});")
# Whitespace, and characters that show as nothing: soft hyphen, zero-width and joiners,
# direction marks and isolates, word joiner and invisible operators, variation selectors,
# the Hangul fillers, the byte order mark; and NUL and U+FFFD, which a body read in the wrong
# encoding puts between the characters of a value (`s\0e\0c\0`, `s\ufffde\ufffd`).
_SHOWS_AS_NOTHING = (
    "\x00\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
    "\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufffd"
)
_INVISIBLE = re.compile(f"[\\s{_SHOWS_AS_NOTHING}]+")
_NUL_OR_REPLACEMENT = re.compile("[\x00\ufffd]+")
_NOT_WHITESPACE_BUT_INVISIBLE = re.compile(f"[{_SHOWS_AS_NOTHING}]")
# A character outside ASCII, or any character with the combining marks that follow it.
_CLUSTER = re.compile(
    ".[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+|[^\\x00-\\x7f]",
    re.DOTALL,
)
MAX_JSON_LEVELS = 3


class _Fold(dict[int, str]):
    """Lower case, one character for one (str.lower turns a few into two)."""

    def __missing__(self, code: int) -> str:
        lowered = chr(code).lower()
        self[code] = folded = lowered if len(lowered) == 1 else chr(code)
        return folded


_FOLD = _Fold()


def fold(text: str) -> str:
    """Lower case, keeping every character at its index."""
    lowered = text.lower()
    return lowered if len(lowered) == len(text) else text.translate(_FOLD)


_PERCENT_CHARS = {
    **{f"%{code:02x}": chr(code) for code in range(256)},
    **{f"%{code:02X}": chr(code) for code in range(256)},
}


def _json_char(match: re.Match[str]) -> str:
    escape = match[0]
    return _JSON_SIMPLE.get(escape[1]) or chr(int(escape[2:], 16))


def _percent_char(match: re.Match[str]) -> str:
    return _PERCENT_CHARS.get(match[0]) or chr(int(match[0][1:], 16))


def _percent_plus_char(match: re.Match[str]) -> str:
    return " " if match[0] == "+" else _percent_char(match)


def _html_char(match: re.Match[str]) -> str:
    ref = match.group(0)
    if ref[1] == "#":
        code = int(ref[3:-1], 16) if ref[2] in "xX" else int(ref[2:-1])
        return chr(code) if code <= 0x10FFFF else ref
    from html.entities import html5  # lazy: only texts with a named reference

    return str(html5.get(ref[1:], ref))


def _nfkc(match: re.Match[str]) -> str:
    return unicodedata.normalize("NFKC", match.group(0))


class View:
    """text with every match of pattern replaced by decode(match); `text` is folded (what
    is searched), `raw` is not (what the next view in a chain decodes)."""

    def __init__(
        self,
        source: str,
        pattern: re.Pattern[str] | None = None,
        decode: Decode | str = "",
        parent: View | None = None,
        raw: str | None = None,
    ) -> None:
        self.source = source
        self.parent = parent
        self._pattern = pattern
        self._decode = decode
        self._map: tuple[list[int], list[int], list[int], list[int]] | None = None
        if raw is None:  # else the caller decoded it, faster, to what pattern.sub gives
            raw = source if pattern is None else pattern.sub(decode, source)
        self.raw = raw
        self.text = fold(self.raw)

    def _edits(self) -> tuple[list[int], list[int], list[int], list[int]]:
        """For each replacement: where it starts and ends in the view and in the source."""
        if self._map is None:
            view_starts: list[int] = []
            view_ends: list[int] = []
            source_starts: list[int] = []
            source_ends: list[int] = []
            shift = 0  # view index minus source index so far
            if self._pattern is not None:
                decode = self._decode
                for match in self._pattern.finditer(self.source):
                    start, end = match.span()
                    size = len(decode if isinstance(decode, str) else decode(match))
                    view_starts.append(start + shift)
                    view_ends.append(start + shift + size)
                    source_starts.append(start)
                    source_ends.append(end)
                    shift += size - (end - start)
            self._map = (view_starts, view_ends, source_starts, source_ends)
        return self._map

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original text that view[start:end] was decoded from."""
        if self._pattern is not None:
            view_starts, view_ends, source_starts, source_ends = self._edits()
            k = bisect_right(view_starts, start) - 1
            if k >= 0 and start < view_ends[k]:
                start = source_starts[k]
            elif k >= 0:
                start += source_ends[k] - view_ends[k]
            k = bisect_right(view_starts, end - 1) - 1
            if k >= 0 and end - 1 < view_ends[k]:
                end = source_ends[k]
            elif k >= 0:
                end += source_ends[k] - view_ends[k]
        return self.parent.span(start, end) if self.parent is not None else (start, end)


def _decoded(view: View, pattern: re.Pattern[str], decode: Decode | str) -> View | None:
    """view decoded once more, or None when pattern finds nothing to decode."""
    if pattern.search(view.raw) is None:
        return None
    return View(view.raw, pattern, decode, parent=view)


def loose(view: View) -> View:
    """view read NFKC-normalised (one character cluster at a time), without whitespace or
    invisible characters."""
    if not unicodedata.is_normalized("NFKC", view.raw):
        view = View(view.raw, _CLUSTER, _nfkc, parent=view)
    if _NOT_WHITESPACE_BUT_INVISIBLE.search(view.raw) is not None:
        return View(view.raw, _INVISIBLE, "", parent=view)
    stripped = "".join(view.raw.split())  # str.split's whitespace is the pattern's \s
    return (
        View(view.raw, _INVISIBLE, "", parent=view, raw=stripped)
        if len(stripped) < len(view.raw)
        else view
    )


def loosened(text: str) -> str:
    """text as a loose view reads it (what a needle is turned into for loose views)."""
    return loose(View(text)).raw


def views(text: str) -> tuple[list[View], list[View]]:
    """The exact views of text (as written and decoded) and its loose views."""
    written = View(text)
    if "\x00" in text or "\ufffd" in text:
        # A body read in the wrong encoding (UTF-16 under a UTF-8 charset): every chain
        # decodes the text without the NULs and U+FFFDs between its characters.
        written = View(text, _NUL_OR_REPLACEMENT, "")
    exact = [written]

    def add(view: View | None) -> View | None:
        if view is not None:
            exact.append(view)
        return view

    deepest = written  # JSON inside JSON inside JSON
    while len(exact) <= MAX_JSON_LEVELS and "\\" in deepest.raw:
        json = add(_decoded(deepest, _JSON_ESCAPE, _json_char))
        if json is None:
            break
        deepest = json
    percent_decoded: list[View | None] = []
    if "%" in written.raw or "+" in written.raw:
        once = add(_decoded(written, _PERCENT, _percent_char))
        percent_decoded.append(add(_decoded(written, _PERCENT_PLUS, _percent_plus_char)))
        if once is not None and "%" in once.raw:  # percent-encoded twice
            add(_decoded(once, _PERCENT, _percent_char))
            add(_decoded(once, _PERCENT_PLUS, _percent_plus_char))
    if deepest is not written and ("%" in deepest.raw or "+" in deepest.raw):
        percent_decoded.append(add(_decoded(deepest, _PERCENT_PLUS, _percent_plus_char)))
    for view in percent_decoded:  # (JSON, then) percent, then JSON: `%5Cu00e9`
        if view is not None and view.parent is not None and "%5c" in view.parent.text:
            add(_decoded(view, _JSON_ESCAPE, _json_char))
    for base in (written, deepest) if deepest is not written else (written,):
        html = add(_decoded(base, _HTML_REF, _html_char)) if "&" in base.raw else None
        if html is not None and "&" in html.raw:
            add(_decoded(html, _HTML_REF, _html_char))  # escaped twice: &amp;quot;
    loose_views = [loose(written)]
    if deepest is not written:
        loose_views.append(loose(deepest))
    return exact, loose_views
