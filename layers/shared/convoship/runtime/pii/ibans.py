"""IBAN: a country code, two check digits and the account, validated by python-stdnum.

Written compact, in groups of four or any other grouping, with spaces, dashes or dots between
groups (`DE89-3704-0044-0532-0130-00`, `DE89 370400440532013000`, `de 89 3704 ...`). The whole
IBAN must pass ISO 13616 mod 97 and have its country's length and format. A following word is
never taken as a last group (`BE68 5390 0754 7034 then`).
"""

from __future__ import annotations

import re

from convoship.runtime.pii.spans import Span, has_digit

_START_RE = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}[ -]?[0-9]{2}", re.ASCII)
_CHUNK_RE = re.compile(r"[ .-]?([A-Za-z0-9]++)", re.ASCII)
_MIN, _MAX = 15, 34


def find_ibans(text: str) -> list[Span]:
    spans: list[Span] = []
    if not has_digit(text):
        return spans
    covered = 0
    for start_match in _START_RE.finditer(text):
        start = start_match.start()
        if start < covered:
            continue
        for end, compact in reversed(_prefixes(text, start_match)):
            if _valid(compact.upper()):
                spans.append((start, end))
                covered = end
                break
    return spans


def find_broken_ibans(text: str) -> list[Span]:
    """IBANs that fail their checks (`GB83 WEST 1234 ...`): never redacted as IBANs, but not a
    card or a phone number either. A capital country code, then groups without lowercase
    letters holding at least ten digits."""
    spans: list[Span] = []
    if not has_digit(text):
        return spans
    for start_match in _START_RE.finditer(text):
        if not start_match.group()[:2].isupper() or (spans and start_match.start() < spans[-1][1]):
            continue
        prefixes = _prefixes(text, start_match, capitals_only=True)
        if prefixes and sum(ch.isdigit() for ch in prefixes[-1][1][4:]) >= 10:
            spans.append((start_match.start(), prefixes[-1][0]))
    return spans


def _prefixes(
    text: str, start_match: re.Match[str], capitals_only: bool = False
) -> list[tuple[int, str]]:
    """Where each chunk after a country code and check digits ends, with the IBAN written that
    far (compact), for the lengths an IBAN may have."""
    compact = "".join(ch for ch in start_match.group() if ch.isalnum())
    pos = start_match.end()
    ends: list[tuple[int, str]] = []
    glued = pos < len(text) and text[pos].isalnum()  # "DE89370400...": no separator first
    while len(compact) < _MAX:
        chunk = _CHUNK_RE.match(text, pos)
        if chunk is None or (glued and chunk.start(1) != pos):
            break
        if capitals_only and chunk.group(1).upper() != chunk.group(1):
            break
        glued = False
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
