"""IBAN: a country code, two check digits and the account, validated by python-stdnum.

Written compact, in groups of four or any other grouping, with spaces, dashes or dots between
groups (`DE89-3704-0044-0532-0130-00`, `DE89 370400440532013000`, `de 89 3704 ...`). The whole
IBAN must pass ISO 13616 mod 97 and have its country's length and format. A following word is
never taken as a last group (`BE68 5390 0754 7034 then`).

Each country has one IBAN length (`LENGTHS`, from the SWIFT registry python-stdnum ships; a
test keeps the two equal), so a candidate is checked at that length only, and two letters that
are no IBAN country (`on 2024`) are no candidate at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from convoship.runtime.pii.spans import Span, Work

_START_RE = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}[ -]?[0-9]{2}", re.ASCII)
_CHUNK_RE = re.compile(r"[ .-]?([A-Za-z0-9]++)", re.ASCII)
_MIN, _MAX = 15, 34
# fmt: off
LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28,
    "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28,
    "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22,
    "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23,
    "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
    "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}
# fmt: on


def find_ibans(work: Work) -> list[Span]:
    text = work.text
    spans: list[Span] = []
    covered = 0
    for start_match in _starts(work):
        start = start_match.start()
        length = LENGTHS.get(start_match.group()[:2].upper())
        if start < covered or length is None:
            continue
        prefixes = _prefixes(text, start_match, longest=length)
        if prefixes and len(prefixes[-1][1]) == length and _valid(prefixes[-1][1].upper()):
            spans.append((start, prefixes[-1][0]))
            covered = prefixes[-1][0]
    return spans


def find_broken_ibans(work: Work) -> list[Span]:
    """IBANs that fail their checks (`GB83 WEST 1234 ...`): never redacted as IBANs, but not a
    card or a phone number either. A capital country code, then groups without lowercase
    letters holding at least ten digits."""
    text = work.text
    spans: list[Span] = []
    for start_match in _starts(work):
        if not start_match.group()[:2].isupper() or (spans and start_match.start() < spans[-1][1]):
            continue
        prefixes = _prefixes(text, start_match, capitals_only=True)
        if prefixes and sum(ch.isdigit() for ch in prefixes[-1][1][4:]) >= 10:
            spans.append((start_match.start(), prefixes[-1][0]))
    return spans


def _starts(work: Work) -> Iterator[re.Match[str]]:
    """What `_START_RE.finditer` finds, matched only where it can: the check digits follow a
    letter, a space or a dash, so they start a run of digits."""
    text = work.text
    for digits, end in work.digits:
        start = digits - 3 if digits and text[digits - 1] in " -" else digits - 2
        if end - digits >= 2 and start >= 0:
            match = _START_RE.match(text, start)
            if match is not None:
                yield match


def _prefixes(
    text: str, start_match: re.Match[str], capitals_only: bool = False, longest: int = _MAX
) -> list[tuple[int, str]]:
    """Where each chunk after a country code and check digits ends, with the IBAN written that
    far (compact), for the lengths an IBAN may have, up to the first that reaches `longest`."""
    compact = "".join(ch for ch in start_match.group() if ch.isalnum())
    pos = start_match.end()
    ends: list[tuple[int, str]] = []
    glued = pos < len(text) and text[pos].isalnum()  # "DE89370400...": no separator first
    while len(compact) < longest:
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
