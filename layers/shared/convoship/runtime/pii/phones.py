"""PHONE: numbers as people write them, checked with `phonenumbers` (phone_numbers.py).

Candidates are digits split by spaces, dots, dashes, slashes or parentheses, with an optional
leading `+` or `00`. A candidate may start or end only where whitespace splits the digits, so
dates, UUIDs and dashed order numbers are never cut into a phone number.

- International (`+44 20 7946 0958`, `0044 ...`): 7-15 digits that make a possible number
  for their country code (so `+1500000` is not one). A longer run is cut back to the longest
  number that is.
- National (`020 7946 0958`, `(02) 9876 5432`, `4155550132`): valid (not just possible) in one
  of the guardrail's regions, written with that region's trunk prefix where it has one (`0` in
  GB, DE, FR, JP, AU ...), except where people leave it out: North America, Brazil, and Indian
  mobiles. Written in the groups the number's national format has (`98765 43210`, not
  `3782 822463`); where there is no trunk prefix (ES, IT, MX), any groups of 2-4 digits.
  Not a date shape, not the tail of a longer run of numbers (`batch 2024 0115 0930`), not after
  an identifier's label (`order`, `invoice`, `#` ...) unless a phone word is closer (`phone`,
  `call`, `tel` ...). Bare digits need 10 of them, or a phone word just before (`phone:
  612345678`).

An extension after a number is part of it: `x123`, `ext. 123`, `ext123`, `extension 12`,
`#123` (1-6 digits).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from convoship.runtime.pii.phone_numbers import INTERNATIONAL_DIGITS, international, valid_national
from convoship.runtime.pii.spans import Span, Work, context_before, context_words, is_word

_DIGITS_ON = r"[0-9](?:[ ./()-]{0,3}+[0-9])*+"  # digits split by up to three separators
_RUN_RE = re.compile(
    r"(?<![\w+@])(?<![0-9][ ./()-])(?<![0-9][ ./()-]{2})(?<![0-9][ ./()-]{3})"
    rf"(?:\(?\+|\()?{_DIGITS_ON}"
)
_DIGITS_ON_RE = re.compile(_DIGITS_ON)
_GROUP_RE = re.compile(r"[0-9]++", re.ASCII)
_DATE_RE = re.compile(
    r"[0-9]{1,2}([./-])[0-9]{1,2}\1[0-9]{2,4}|[0-9]{4}([./-])[0-9]{1,2}\2[0-9]{1,2}", re.ASCII
)
_PHONE_WORDS = context_words(
    r"phones?", r"tel", r"telephone", r"mobile", r"mob", r"cell(?:phone)?", r"call", r"ring",
    r"text", r"sms", r"whats\s*app", r"fax", r"contact", r"reach", r"dial", r"hotline",
    r"tel[eé]fono", r"telefon", r"handy", r"portable", r"t[eé]l", r"m[oó]vil", r"cellulare",
)  # fmt: skip
_ID_WORDS = context_words(
    r"order", r"invoice", r"inv", r"ref", r"reference", r"ticket", r"tracking", r"case",
    r"id", r"sku", r"isbn", r"serial", r"part", r"confirmation", r"booking", r"reservation",
    r"transaction", r"tx", r"account", r"acct", r"customer", r"member", r"policy", r"claim",
    r"item", r"product", r"model", r"version", r"build", r"pin", r"code", r"#", r"№", r"po",
    r"purchase\s+order", r"upc", r"ean", r"gtin", r"barcode", r"issn", r"batch", r"lot",
    r"salary", r"range",
)  # fmt: skip
_EXTENSION_RE = re.compile(
    r"[ \t,]{0,2}+(?:ext(?:ension|n)?+[.:]?+|x|#)[ \t]{0,2}+[0-9]{1,6}+(?!\w)", re.IGNORECASE
)
_SSN_SHAPE_RE = re.compile(r"[0-9]{3}([ .-])[0-9]{2}\1[0-9]{4}", re.ASCII)
_MAX_GROUPS = 7
_NATIONAL_DIGITS = (7, 13)


def find_phones(work: Work, regions: tuple[str, ...]) -> list[Span]:
    text = work.text
    spans: list[Span] = []
    covered = 0  # where the last phone's extension ends
    for run in _runs(work):
        if run.start() < covered or run.end() - run.start() < 7:
            continue
        extension = _EXTENSION_RE.match(text, run.end())
        if extension is None and run.end() < len(text) and is_word(text[run.end()]):
            continue
        groups = [m.span() for m in _GROUP_RE.finditer(text, run.start(), run.end())]
        first = 0
        while first < len(groups):
            found = _phone_at(text, run.start(), groups, first, regions)
            if found is None:
                first += 1
            else:
                start, end = found[0]
                if extension is not None and end == run.end():
                    end = covered = extension.end()
                spans.append((start, end))
                first = found[1] + 1
            while 0 < first < len(groups) and not _splits(text, groups, first - 1):
                first += 1
    return spans


def _runs(work: Work) -> Iterator[re.Match[str]]:
    """What `_RUN_RE.finditer` finds, matched only where it can: at the first digit past the
    last run, or at the `(`, `+` or `(+` just before it. Where none of these passes the
    lookbehinds, no later start up to the end of those digits can either (each follows a digit
    and at most three separators), so the search goes on past them."""
    text = work.text
    end = 0
    for digit, _ in work.digits:
        if digit < end:
            continue
        for start in range(max(end, digit - 2), digit + 1):
            run = _RUN_RE.match(text, start)
            if run is not None:
                yield run
                end = run.end()
                break
        else:
            digits_on = _DIGITS_ON_RE.match(text, digit)
            end = digits_on.end() if digits_on else digit + 1  # always a match: a digit


def _splits(text: str, groups: list[tuple[int, int]], index: int) -> bool:
    """Whether whitespace separates groups[index] from the next group."""
    return any(ch.isspace() for ch in text[groups[index][1] : groups[index + 1][0]])


def _phone_at(
    text: str, run_start: int, groups: list[tuple[int, int]], first: int, regions: tuple[str, ...]
) -> tuple[Span, int] | None:
    """The longest phone number starting at groups[first], and the index of its last group."""
    start = groups[first][0]
    floor = run_start if first == 0 else groups[first - 1][1]
    while start > floor and text[start - 1] in "(+":
        start -= 1
    plus = "+" in text[start : groups[first][0]]
    ends: list[int] = []
    digits = 0
    for last in range(first, min(len(groups), first + _MAX_GROUPS)):
        length = groups[last][1] - groups[last][0]
        digits += length
        if digits > INTERNATIONAL_DIGITS[1] or (length == 1 and last - first > 2):
            break  # one-digit groups only lead: `1 415 ...`, `+33 (0)1 23 ...`, `+52 1 55 ...`
        if digits >= _NATIONAL_DIGITS[0] and (
            last == len(groups) - 1 or _splits(text, groups, last)
        ):
            ends.append(last)
    for last in reversed(ends):
        span = _balanced(text, start, groups[last][1])
        if _is_phone(text, span, plus, regions):
            return span, last
    return None


def _balanced(text: str, start: int, end: int) -> Span:
    """start..end without an opening parenthesis it does not close: `(+44 20 ...)`."""
    while text[start] == "(" and text.count("(", start, end) > text.count(")", start, end):
        start += 1
    return start, end


def _is_phone(text: str, span: Span, plus: bool, regions: tuple[str, ...]) -> bool:
    written = text[span[0] : span[1]]
    groups = tuple(_GROUP_RE.findall(written))
    digits = "".join(groups)
    if plus:
        return international(groups)
    if any(_DATE_RE.fullmatch(chunk) for chunk in written.split()):
        return False
    if span[0] > 1 and text[span[0] - 1] == " " and text[span[0] - 2].isdigit():
        return False  # carved out of a longer run of numbers: `batch 2024 0115 0930`
    if groups[0].startswith("00") and len(groups) > 1:  # `0044 20 ...`: an international prefix
        valid = international((groups[0][2:], *groups[1:]))
    else:
        low, high = _NATIONAL_DIGITS
        if not low <= len(digits) <= high or _SSN_SHAPE_RE.fullmatch(written):
            return False
        valid = valid_national(tuple(len(group) for group in groups), digits, regions)
    if not valid:
        return False
    # The context is read last: most candidates fail the checks above (cached per number).
    if context_before(text, span[0], _PHONE_WORDS):
        return True
    return not (len(groups) == 1 and len(digits) < 10) and not context_before(
        text, span[0], _ID_WORDS
    )
