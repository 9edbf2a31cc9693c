"""IBAN: a country code, two check digits and the account, validated by python-stdnum.

Written compact, in groups of four or any other grouping, with spaces, dashes or dots between
groups (`DE89-3704-0044-0532-0130-00`, `DE89 370400440532013000`, `de 89 3704 ...`). The whole
IBAN must pass ISO 13616 mod 97 and have its country's length and format. A following word is
never taken as a last group (`BE68 5390 0754 7034 then`).
"""

from __future__ import annotations

import re

from convoship.runtime.pii.spans import Span

_START_RE = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}[ -]?[0-9]{2}", re.ASCII)
_CHUNK_RE = re.compile(r"[ .-]?([A-Za-z0-9]++)", re.ASCII)
_MIN, _MAX = 15, 34


def find_ibans(text: str) -> list[Span]:
    spans: list[Span] = []
    covered = 0
    for start_match in _START_RE.finditer(text):
        start = start_match.start()
        if start < covered:
            continue
        head = "".join(ch for ch in start_match.group() if ch.isalnum())
        ends = _chunk_ends(text, start_match.end(), head)
        for end, compact in reversed(ends):
            if _valid(compact.upper()):
                spans.append((start, end))
                covered = end
                break
    return spans


def _chunk_ends(text: str, pos: int, compact: str) -> list[tuple[int, str]]:
    """Where each following chunk ends, with the IBAN written that far, while it may be one."""
    ends: list[tuple[int, str]] = []
    if pos < len(text) and text[pos].isalnum():  # the check digits run on into the account
        chunk = _CHUNK_RE.match(text, pos)
        assert chunk is not None
        compact += chunk.group(1)
        pos = chunk.end()
        ends.append((pos, compact))
    while len(compact) < _MAX:
        chunk = _CHUNK_RE.match(text, pos)
        if chunk is None:
            break
        compact += chunk.group(1)
        pos = chunk.end()
        ends.append((pos, compact))
    return [(end, iban) for end, iban in ends if _MIN <= len(iban) <= _MAX]


def _valid(iban: str) -> bool:
    if not _mod97_ok(iban):  # cheap, and keeps stdnum unimported for text with no IBAN at all
        return False
    from stdnum import iban as stdnum_iban  # lazy: ~4 ms, paid on the first IBAN-like text

    # The country's length and format, not its national check: stdnum's bank lists may lag.
    return bool(stdnum_iban.is_valid(iban, check_country=False))


def _mod97_ok(iban: str) -> bool:
    if not iban.isalnum() or not iban.isascii():
        return False
    digits = "".join(str(int(ch, 36)) for ch in iban[4:] + iban[:4])
    return int(digits) % 97 == 1
