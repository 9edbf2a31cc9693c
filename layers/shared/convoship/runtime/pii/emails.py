"""EMAIL: `local@domain.tld` in any script, the TLD being 2-63 letters or an `xn--` label.

Local parts and domains may hold any letters (`jörg@beispiel.de`, `用户@例子.中国`,
`o'brien@...`); full-width `@` (U+FF20) and full stop (U+FF0E) read as `@` and `.` after
normalisation, and an `@` escaped (`&#64;`, `\u0040`, `%40`) as `@` (urlcoded.py). In the
domain an ideographic full stop (U+3002, or U+FF61, which NFKC makes one) separates labels
too, `jane@gmail。com`, when the TLD after it is ASCII: a Chinese sentence may end in `。` right
after a mention (`感谢@小明。谢谢` is no email), or after a whole address, which it then ends
(`jane@example.com。Thanks`). Not emails: `user@localhost`, `a@b.c`, decorators.
"""

from __future__ import annotations

import re

from convoship.runtime.pii.spans import Span, is_word

_EMAIL_RE = re.compile(
    r"(?<![\w.%+@-])\w[\w.%+'-]*+@(?:[\w-]++[.\u3002])+(?:[^\W\d_]{2,63}|xn--[a-z0-9-]{1,59})"
    r"(?![\w@-]|[.\u3002]\w)",
    re.IGNORECASE,
)
_IDEOGRAPHIC_STOP = "\u3002"
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
        if email is not None and _IDEOGRAPHIC_STOP in email.group():
            email = _with_ideographic_stops(text, email)
        if email is not None:
            spans.append(email.span())
            done = email.end()
        at = text.find("@", max(at + 1, done))
    return spans


def _starts_local(text: str, index: int) -> bool:
    before = text[index - 1] if index else ""
    return is_word(text[index]) and not (before and (is_word(before) or before in _NOT_BEFORE))


def _with_ideographic_stops(text: str, email: re.Match[str]) -> re.Match[str] | None:
    """The email, if its ideographic full stops separate labels: cut at the first one when the
    domain before it already has an ASCII `.` (a sentence's end), else kept if its TLD is
    ASCII."""
    at = email.group().index("@") + email.start()
    stop = text.index(_IDEOGRAPHIC_STOP, at, email.end())
    if "." in text[at:stop]:
        return _EMAIL_RE.match(text, email.start(), stop)
    tld = email.group().rsplit(_IDEOGRAPHIC_STOP, 1)[-1]
    return email if tld.isascii() and "." not in tld else None
