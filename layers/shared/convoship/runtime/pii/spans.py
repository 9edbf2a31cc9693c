"""What the detectors share: the text with its digit runs, spans, the mask that hides what was
found, boundaries, context.

Python's regex engine tries a pattern that opens with a lookbehind at every position of the
text, and scanning 2 KB costs tens of microseconds per pattern. So the ASCII digit runs are
found once per text (`Work.digits`), and each number detector matches its own pattern only
where one of them starts; its lookbehinds then read the text before that position as usual.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

Span = tuple[int, int]

# Stands in for found text while later detectors run: matches no pattern, counts as a boundary.
MASK = "\x00"
# How far back a context word may stand ("SSN: ", "my phone number is ").
CONTEXT_CHARS = 32


_DIGITS_RE = re.compile(r"[0-9]++")


class Work:
    """A text as the detectors read it: masked so far, with its runs of ASCII digits (found on
    first use: text asked only for emails or credentials never pays for them)."""

    __slots__ = ("_digits", "text")

    def __init__(self, text: str, digits: list[Span] | None = None) -> None:
        self.text = text
        self._digits = digits

    @property
    def digits(self) -> list[Span]:
        if self._digits is None:
            self._digits = [m.span() for m in _DIGITS_RE.finditer(self.text)]
        return self._digits

    def masked(self, spans: list[Span]) -> Work:
        """This text with `spans` masked. Masking only removes digits, so the new runs are found
        inside the old ones."""
        if not spans:
            return self
        text = mask(self.text, spans)
        if self._digits is None:
            return Work(text)
        digits: list[Span] = []
        for start, end in self._digits:
            if text.find(MASK, start, end) < 0:
                digits.append((start, end))
            else:
                digits.extend(m.span() for m in _DIGITS_RE.finditer(text, start, end))
        return Work(text, digits)


def run_matches(pattern: re.Pattern[str], work: Work) -> Iterator[re.Match[str]]:
    """What `pattern.finditer(work.text)` finds, for a pattern whose matches start where a run of
    digits does (a digit first, and no digit before it, or the search's last match ending in
    digits): matched only there."""
    end = 0
    for start, _ in work.digits:
        if start >= end:
            found = pattern.match(work.text, start)
            if found is not None:
                yield found
                end = found.end()


def mask(text: str, spans: list[Span]) -> str:
    if not spans:
        return text
    parts: list[str] = []
    last = 0
    for start, end in sorted(spans):
        parts.append(text[last:start])
        parts.append(MASK * (end - start))
        last = end
    parts.append(text[last:])
    return "".join(parts)


def is_word(ch: str) -> bool:
    """A letter, digit or `_` of any script: what glues a number into an identifier."""
    return ch.isalnum() or ch == "_"


def glued(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] touches a word character on either side."""
    return (start > 0 and is_word(text[start - 1])) or (end < len(text) and is_word(text[end]))


def context_words(*words: str) -> re.Pattern[str]:
    """Matches text that ends with one of `words` (regex fragments), then perhaps a few filler
    words ("is", "number", "no"), spaces and light punctuation: the context of a candidate."""
    filler = r"(?:[^\w\x00]{1,4}+(?:is|was|number|num|no|nr|here|at|on|to)\b)*+"
    return re.compile(rf"(?i)(?<!\w)(?:{'|'.join(words)})(?!\w){filler}[^\w\x00]{{0,4}}\Z")


def context_before(text: str, start: int, pattern: re.Pattern[str]) -> bool:
    """Whether `pattern` (from context_words) matches the CONTEXT_CHARS before `start`."""
    return bool(pattern.search(text, max(0, start - CONTEXT_CHARS), start))
