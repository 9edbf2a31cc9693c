"""Text as the detectors read it: NFKC, every decimal digit as ASCII, no invisible formatting.

Full-width digits and `@` (U+FF10.., U+FF20), Arabic-Indic (U+0660..), Devanagari (U+0966..)
and every other script's decimal digits become ASCII; no-break and ideographic spaces become
spaces; zero-width and other format characters (Cf) go, as do the other invisible ones
(variation selectors, the grapheme joiner, Hangul fillers). Between digits (or a number's
parenthesis), with at most two spaces on either side, dash-like characters (U+2010-U+2015,
U+2212 minus, U+2043, U+2E3A-B, U+30FC, and what NFKC makes of U+2011, U+FE58, U+FF70) read
as `-`, and an ideographic full stop (U+3002, U+FF61) right between two digits as `.`:
`415` U+2013 `555` U+2013 `0132`, `192` U+3002 `168` ... Elsewhere they stay: an em dash
after an email address, a full stop ending a Chinese sentence. Each character is normalised
with the combining marks that follow it, so `o` + U+0308 reads as `ö`.
`Normalized.original_span` maps a span of the normalised text back onto the original, widened
to whole original characters: a redaction never leaves part of what was matched behind.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Runs of non-ASCII characters, with the character before them (a base a mark may combine with).
_NON_ASCII_RE = re.compile(r".?[^\x00-\x7f]+", re.DOTALL)
_DECIMAL_RE = re.compile(r"\d")  # Unicode: any script's decimal digits
# After NFKC: what may separate the digits of a number, and what it then reads as.
_DASHES = frozenset("\u2010\u2012\u2013\u2014\u2015\u2043\u2212\u2e3a\u2e3b\u30fc")
_FULL_STOPS = frozenset("\u3002")
_OPENING, _CLOSING = "(\uff08", ")\uff09"  # and their full-width forms
# The same before NFKC, with what NFKC turns into them: whether a run needs folding at all.
_SEPARATOR_RE = re.compile("[\u2010-\u2015\u2043\u2212\u2e3a\u2e3b\u3002\u30fc\ufe58\uff61\uff70]")
# Invisible, and no format character (Cf): the combining grapheme joiner, the Hangul fillers,
# the Khmer inherent vowels, Mongolian and other variation selectors, and the unassigned
# default-ignorable points. A reader skips them; so do the detectors.
_IGNORABLE_RE = re.compile(
    "[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u2065\u3164\ufe00-\ufe0f\uffa0"
    "\ufff0-\ufff8\U000e0100-\U000e01ef]"
)


@dataclass(frozen=True)
class Normalized:
    text: str
    # For each character of `text`: where the original character(s) it came from start and end.
    # None when `text` is the original.
    starts: list[int] | None = None
    ends: list[int] | None = None

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        if self.starts is None or self.ends is None:
            return start, end
        return self.starts[start], self.ends[end - 1]


def normalize(text: str) -> Normalized:
    if text.isascii():
        return Normalized(text)
    pieces: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    done = 0  # original text before this index is already in pieces
    for run in _NON_ASCII_RE.finditer(text):
        if unicodedata.is_normalized("NFKC", run.group()) and not _needs_folding(run.group()):
            continue
        run_start, run_end = run.span()
        pieces.append(text[done:run_start])
        starts.extend(range(done, run_start))
        ends.extend(range(done + 1, run_start + 1))
        for cluster_start, cluster_end in _clusters(text, run_start, run_end):
            folded = _fold(text, cluster_start, cluster_end)
            pieces.append(folded)
            starts.extend([cluster_start] * len(folded))
            ends.extend([cluster_end] * len(folded))
        done = run_end
    if not done:
        return Normalized(text)
    pieces.append(text[done:])
    starts.extend(range(done, len(text)))
    ends.extend(range(done + 1, len(text) + 1))
    return Normalized("".join(pieces), starts, ends)


def _needs_folding(run: str) -> bool:
    """Non-ASCII digits, separators or format characters, which NFKC leaves as they are."""
    if _DECIMAL_RE.search(run) or _SEPARATOR_RE.search(run) or _IGNORABLE_RE.search(run):
        return True
    return any(unicodedata.category(ch) == "Cf" for ch in run)


def _clusters(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """start..end cut into base characters, each with the combining marks that follow it."""
    clusters: list[tuple[int, int]] = []
    index = start
    while index < end:
        stop = index + 1
        while stop < end and unicodedata.combining(text[stop]):
            stop += 1
        clusters.append((index, stop))
        index = stop
    return clusters


def _fold(text: str, start: int, end: int) -> str:
    out = []
    for ch in unicodedata.normalize("NFKC", text[start:end]):
        if ch.isdecimal() and not ch.isascii():
            out.append(chr(48 + unicodedata.decimal(ch)))
        elif ch in _DASHES and _between_numbers(text, start, end):
            out.append("-")
        elif ch in _FULL_STOPS and _between_digits(text, start, end):
            out.append(".")
        elif unicodedata.category(ch) != "Cf" and not _IGNORABLE_RE.match(ch):
            out.append(ch)
    return "".join(out)


def _between_numbers(text: str, start: int, end: int) -> bool:
    """A digit or `)` before start, a digit or `(` after end, with at most two spaces between."""
    before = text[max(0, start - 3) : start].rstrip()
    after = text[end : end + 3].lstrip()
    return (
        bool(before)
        and (before[-1].isdecimal() or before[-1] in _CLOSING)
        and bool(after)
        and (after[0].isdecimal() or after[0] in _OPENING)
    )


def _between_digits(text: str, start: int, end: int) -> bool:
    return start > 0 and end < len(text) and text[start - 1].isdecimal() and text[end].isdecimal()
