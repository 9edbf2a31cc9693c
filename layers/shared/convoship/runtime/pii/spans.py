"""What the detectors share: spans, the mask that hides what was found, boundaries, context."""

from __future__ import annotations

import re

Span = tuple[int, int]

# Stands in for found text while later detectors run: matches no pattern, counts as a boundary.
MASK = "\x00"
# How far back a context word may stand ("SSN: ", "my phone number is ").
CONTEXT_CHARS = 32


_DIGIT_RE = re.compile(r"[0-9]")


def has_digit(text: str) -> bool:
    return _DIGIT_RE.search(text) is not None


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
    filler = r"(?:[^\w\x00]{1,4}(?:is|was|number|num|no|nr|here|at|on|to)\b)*"
    return re.compile(rf"(?i)(?<!\w)(?:{'|'.join(words)})(?!\w){filler}[^\w\x00]{{0,4}}\Z")


def context_before(text: str, start: int, pattern: re.Pattern[str]) -> bool:
    """Whether `pattern` (from context_words) matches the CONTEXT_CHARS before `start`."""
    return bool(pattern.search(text, max(0, start - CONTEXT_CHARS), start))
