"""US_SSN: `123-45-6789`, `123 45 6789`, `123.45.6789`, `123/45/6789`, `123_45_6789`,
`123 - 45 - 6789`, and nine bare digits after a cue: "SSN", "social (security)", "soc sec",
"SS#" (`my social is 123456789`, `ssn#123456789`); bare digits without one are left alone.

The separator is the same twice; area 000, 666 and 900-999, group 00 and serial 0000 are never
issued, and a number inside a longer one (`123-45-6789-1`, `x123-45-6789`, `/123/45/6789`) is
not an SSN.
"""

from __future__ import annotations

import re

from convoship.runtime.pii.spans import Span, Work, context_before, context_words, run_matches

_SSN_RE = re.compile(
    r"(?<![\w.+/-])(?<![0-9][ ./_-])(?<![0-9] - )(?<![0-9]- )"
    r"(?P<area>[0-9]{3})(?:(?P<sep> ?- ?|[ ./_])(?P<group>[0-9]{2})(?P=sep)"
    r"(?P<serial>[0-9]{4})|(?P<bare>[0-9]{6}))(?!\w| ?[ ./_-] ?[0-9])",
    re.ASCII,
)
_CONTEXT = context_words(r"ssns?", r"social(?:\s+security)?", r"soc\.?\s*sec", r"ss\s*(?:no|nr|#)")


def find_ssns(work: Work) -> list[Span]:
    spans: list[Span] = []
    for m in run_matches(_SSN_RE, work):  # no digit before the area: it starts a run
        area = m.group("area")
        if m.group("bare"):
            group, serial = m.group("bare")[:2], m.group("bare")[2:]
            if not context_before(work.text, m.start(), _CONTEXT):
                continue
        else:
            group, serial = m.group("group"), m.group("serial")
        if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
            continue
        spans.append(m.span())
    return spans
