"""EMAIL: `local@domain.tld` in any script, the TLD being 2-63 letters or an `xn--` label.

Local parts and domains may hold any letters (`jörg@beispiel.de`, `用户@例子.中国`,
`o'brien@...`); full-width `@` (U+FF20) reads as `@` after normalisation. Not emails:
`user@localhost`, `a@b.c`, decorators.
"""

from __future__ import annotations

import re

from convoship.runtime.pii.spans import Span

_EMAIL_RE = re.compile(
    r"(?<![\w.%+@-])\w[\w.%+'-]*+@(?:[\w-]++\.)+(?:[^\W\d_]{2,63}|xn--[a-z0-9-]{1,59})"
    r"(?![\w@-]|\.\w)",
    re.IGNORECASE,
)


def find_emails(text: str) -> list[Span]:
    if "@" not in text:
        return []
    return [m.span() for m in _EMAIL_RE.finditer(text)]
