"""CREDIT_CARD: 13-19 digits passing the Luhn check, in the layouts cards are written in.

Digits may be split by whitespace (newlines and tabs too), dots, commas, pipes, dashes,
underscores or slashes, one to three of them and mixed (`4111.1111-1111 1111`,
`4111  1111  1111  1111`, `4111_1111_1111_1111`, `4111|1111|1111|1111`, a JSON array
`[4111, 1111, 1111, 1111]`), grouped as cards print them (4-4-4-1..4, 4-4-4-4-1..3, 4-6-4, 4-6-5,
8-8) or in one run, which may be glued to letters (`card4111111111111111exp`). The number
starts with 2-6 or 9 (a 2 only as 2200-2720: Mir and Mastercard, so years 2016, 2017 ... in a
list are not one), and only Visa has 13 digits (so ISBN-13 and most EAN barcodes are not
cards). Not cards: digits glued to a hexadecimal word (a hash, a UUID; an IBAN's account part
is found first), a number with a decimal point, layouts such as dates (4-2-2), IP addresses,
thousands (1,234,567) and runs of 20 digits or more.
"""

from __future__ import annotations

import re

from convoship.runtime.pii.spans import Span, Work, glued, is_word, run_matches

_RUN_RE = re.compile(r"[0-9]++(?:[\s.,|_/-]{1,3}+[0-9]++)*+", re.ASCII)
_GROUP_RE = re.compile(r"[0-9]++", re.ASCII)
_FIRST_DIGITS = frozenset("234569")
_MAX_GROUPS = 5
_HEX = frozenset("0123456789abcdefABCDEF")


def find_cards(work: Work) -> list[Span]:
    text = work.text
    spans: list[Span] = []
    for run in run_matches(_RUN_RE, work):
        start, end = run.span()
        if end - start < 13 or _in_hex_word(text, start, end):
            continue
        groups = [m.span() for m in _GROUP_RE.finditer(text, start, end)]
        index = 1 if start and text[start - 1] == "+" else 0  # a phone's country code
        while index < len(groups):
            last = _card_at(text, groups, index)
            if last is None:
                index += 1
            else:
                spans.append((groups[index][0], groups[last][1]))
                index = last + 1
    return spans


def _card_at(text: str, groups: list[Span], first: int) -> int | None:
    """Index of the last group of the longest card starting at group `first`, if any."""
    lengths: list[int] = []
    fits: list[int] = []
    for last in range(first, min(len(groups), first + _MAX_GROUPS)):
        lengths.append(groups[last][1] - groups[last][0])
        if sum(lengths) > 19:
            break
        if _layout_ok(lengths) and (len(lengths) > 1 or not _decimal_part(text, groups, last)):
            fits.append(last)
    for last in reversed(fits):
        digits = "".join(text[start:end] for start, end in groups[first : last + 1])
        if _number_ok(digits):
            return last
    return None


def _decimal_part(text: str, groups: list[Span], index: int) -> bool:
    """Whether groups[index] is glued by a lone `.` to the digits next to it (a comma is a
    list's: `name,4111111111111111,12,27` is a CSV row with a card)."""
    start, end = groups[index]
    before = index > 0 and groups[index - 1][1] == start - 1 and text[start - 1] == "."
    after = index + 1 < len(groups) and groups[index + 1][0] == end + 1 and text[end] == "."
    return before or after


def _layout_ok(lengths: list[int]) -> bool:
    if not 13 <= sum(lengths) <= 19:
        return False
    if len(lengths) == 1 or lengths in ([4, 6, 4], [4, 6, 5], [8, 8]):
        return True
    return len(lengths) >= 4 and all(n == 4 for n in lengths[:-1]) and 1 <= lengths[-1] <= 4


def _number_ok(digits: str) -> bool:
    if digits[0] not in _FIRST_DIGITS or (len(digits) == 13 and digits[0] != "4"):
        return False
    if digits[0] == "2" and not "2200" <= digits[:4] <= "2720":
        return False
    return luhn_ok(digits)


def _in_hex_word(text: str, start: int, end: int) -> bool:
    """Whether the digits are glued to letters that are all hexadecimal digits (a hash, a
    UUID's part): `deadbeef4111...`, not `card4111...exp`."""
    if not glued(text, start, end):
        return False
    first, last = start, end
    while first > 0 and is_word(text[first - 1]):
        first -= 1
    while last < len(text) and is_word(text[last]):
        last += 1
    return all(ch in _HEX for ch in text[first:start] + text[end:last])


def luhn_ok(digits: str) -> bool:
    total = 0
    for index, ch in enumerate(reversed(digits)):
        digit = ord(ch) - 48
        if index % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0
