"""EMAIL: `local@domain.tld` in any script, the TLD being 2-63 letters or an `xn--` label.

Local parts and domains may hold any letters (`jörg@beispiel.de`, `用户@例子.中国`,
`o'brien@...`); full-width `@` (U+FF20) reads as `@` after normalisation. Not emails:
`user@localhost`, `a@b.c`, decorators.
"""

from __future__ import annotations

import re

from convoship.runtime.pii.spans import Span, is_word

_EMAIL_RE = re.compile(
    r"(?<![\w.%+@-])\w[\w.%+'-]*+@(?:[\w-]++\.)+(?:[^\W\d_]{2,63}|xn--[a-z0-9-]{1,59})"
    r"(?![\w@-]|\.\w)",
    re.IGNORECASE,
)
_LOCAL_SYMBOLS = ".%+'-"  # what a local part holds besides word characters
_NOT_BEFORE = ".%+@-"  # what may not stand just before it (nor a word character)


def find_emails(text: str) -> list[Span]:
    """What `_EMAIL_RE.finditer` finds, matched only where it can: from each `@`, back to the
    start of the local part before it."""
    spans: list[Span] = []
    done = 0
    at = text.find("@")
    while at >= 0:
        first = at  # the local part is the run of its characters just before the `@`
        while first > done and (is_word(text[first - 1]) or text[first - 1] in _LOCAL_SYMBOLS):
            first -= 1
        start = next((i for i in range(first, at) if _starts_local(text, i)), None)
        # From any later start the run reaches the same `@` and the same domain: one try.
        email = _EMAIL_RE.match(text, start) if start is not None else None
        if email is not None:
            spans.append(email.span())
            done = email.end()
        at = text.find("@", max(at + 1, done))
    return spans


def _starts_local(text: str, index: int) -> bool:
    before = text[index - 1] if index else ""
    return is_word(text[index]) and not (before and (is_word(before) or before in _NOT_BEFORE))
