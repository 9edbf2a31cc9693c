"""Text as the detectors read it: NFKC, every decimal digit as ASCII, no invisible formatting.

Full-width digits and `@` (U+FF10.., U+FF20), Arabic-Indic (U+0660..), Devanagari (U+0966..)
and every other script's decimal digits become ASCII; no-break and ideographic spaces become
spaces; zero-width and other format characters (Cf) go. Each character is normalised with the
combining marks that follow it, so `o` + U+0308 reads as `ö`. `Normalized.original_span` maps
a span of the normalised text back onto the original, widened to whole original characters:
a redaction never leaves part of what was matched behind.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Runs of non-ASCII characters, with the character before them (a base a mark may combine with).
_NON_ASCII_RE = re.compile(r".?[^\x00-\x7f]+", re.DOTALL)
_DECIMAL_RE = re.compile(r"\d")  # Unicode: any script's decimal digits


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
            folded = _fold(text[cluster_start:cluster_end])
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
    """Non-ASCII digits or format characters, which NFKC leaves as they are."""
    return bool(_DECIMAL_RE.search(run)) or any(unicodedata.category(ch) == "Cf" for ch in run)


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


def _fold(cluster: str) -> str:
    out = []
    for ch in unicodedata.normalize("NFKC", cluster):
        if ch.isdecimal() and not ch.isascii():
            out.append(chr(48 + unicodedata.decimal(ch)))
        elif unicodedata.category(ch) != "Cf":
            out.append(ch)
    return "".join(out)
