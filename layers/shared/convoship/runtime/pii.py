"""PII redaction for chat transcripts and tool arguments, applied before they are stored.

`redact_text` replaces each detected entity with a placeholder naming its kind (`[EMAIL]`,
`[PHONE]`, `[CREDIT_CARD]`, `[US_SSN]`, `[IBAN]`, `[IP_ADDRESS]`) and returns the number of
replacements; `redact_value` does the same for every string inside JSON-like data (dict values,
list and tuple items; keys, numbers, booleans and None are left alone). Only the entities asked
for are redacted; an unknown entity name is a ValueError.

Detection favours precision on ordinary prose, dates, prices, versions, UUIDs and order numbers:

- EMAIL: ASCII `local@domain.tld`, the TLD being 2-63 letters.
- IBAN: 2 letters, 2 check digits and 11-30 letters/digits, compact or in space-separated
  groups of 4; the account part must hold a digit and the ISO 13616 mod-97 check must pass.
- CREDIT_CARD: 13-19 digits starting with 2-6 or 9, passing the Luhn check; either one run of
  digits or groups split by one consistent space or dash as cards print them (4-4-4-1..4,
  4-4-4-4-1..3, 4-6-4, 4-6-5). Digits glued to letters, `+` or a decimal point are not cards.
- US_SSN: `ddd-dd-dddd` or `ddd dd dddd`, without area 000, 666 or 900-999, group 00 or serial
  0000, and not inside a longer number.
- IP_ADDRESS: IPv4 dotted quads with octets 0-255 that are not part of a longer dotted number
  (`1.2.3.4.5`), and IPv6 (with an optional zone) that `ipaddress` accepts and that holds a
  decimal digit (so `Foo::Bar` in code is left alone).
- PHONE: `+` then 7-15 digits split by single spaces, dashes, dots or parentheses (a longer run
  is cut back at a space), and North American numbers with a separator or parentheses:
  `(415) 555-0132`, `415-555-0132`, `415.555.0132`, `415 555 0132`, `1-415-555-0132`, area
  code and exchange starting with 2-9. Bare digit runs are not phone numbers.

Detectors run in the order EMAIL, IBAN, CREDIT_CARD, US_SSN, IP_ADDRESS, PHONE; each sees the
text with earlier matches masked, so checksummed and longer entities win and nothing is found
inside a placeholder. Patterns are ASCII-only and built from possessive quantifiers and bounded
lookarounds, so hostile input costs linear time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

ENTITIES = ("EMAIL", "PHONE", "CREDIT_CARD", "US_SSN", "IBAN", "IP_ADDRESS")

Span = tuple[int, int]

# Stands in for redacted text while later detectors run: matches no pattern, counts as a boundary.
_MASK = "\x00"
_A = re.ASCII

_EMAIL_RE = re.compile(
    r"(?<![\w.%+@-])[A-Za-z0-9._%+-]++@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,63}"
    r"(?![\w@-]|\.[A-Za-z0-9])",
    _A,
)
_IBAN_RE = re.compile(
    r"(?<![A-Za-z0-9])[A-Za-z]{2}[0-9]{2}"
    r"(?:[A-Za-z0-9]{11,30}+(?![A-Za-z0-9])"  # compact
    r"|(?: [A-Za-z0-9]{4}){2,7}+(?: [A-Za-z0-9]{1,3}(?![A-Za-z0-9]))?)",  # groups of 4
    _A,
)
_DIGIT_RUN_RE = re.compile(r"[0-9]++(?:[ -][0-9]++)*+", _A)
_DIGITS_RE = re.compile(r"[0-9]++", _A)
_SSN_RE = re.compile(
    r"(?<![\w.+-])(?:"
    r"(?P<a1>[0-9]{3})-(?P<g1>[0-9]{2})-(?P<s1>[0-9]{4})(?![\w]|[.-][0-9])"
    r"|(?<![0-9] )(?P<a2>[0-9]{3}) (?P<g2>[0-9]{2}) (?P<s2>[0-9]{4})(?![\w]|[ .-][0-9])"
    r")",
    _A,
)
_IPV4_RE = re.compile(
    r"(?<![\w.])[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}(?![\w]|\.[0-9])", _A
)
_IPV6_RE = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}"
    r"(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9A-Fa-f]{1,4})?"
    r"(?:%[0-9A-Za-z_-]++)?"
    r"(?![\w:]|\.[0-9A-Za-z])",
    _A,
)
_INTL_PHONE_RE = re.compile(
    r"(?<![\w+])\+[0-9](?:(?:[ .-]?\(|\)[ .-]?|[ .-])?+[0-9])*+",
    _A,
)
_NANP_RE = re.compile(
    r"(?<![\w.+-])(?:1[ .-])?"
    r"(?:\([2-9][0-9]{2}\) ?[2-9][0-9]{2}[ .-]"
    r"|[2-9][0-9]{2}(?P<sep>[ .-])[2-9][0-9]{2}(?P=sep))"
    r"[0-9]{4}(?![\w]|[.-][0-9])",
    _A,
)
_MAYBE_PII_RE = re.compile(r"[0-9@]")
_CARD_FIRST_DIGITS = frozenset("234569")


def redact_text(text: str, entities: Iterable[str]) -> tuple[str, int]:
    """`text` with each detected entity of the given kinds replaced, and the replacement count."""
    return _redact(text, _wanted(entities))


def redact_value(value: Any, entities: Iterable[str]) -> tuple[Any, int]:
    """A copy of JSON-like `value` with every string redacted, and the total replacement count."""
    return _redact_any(value, _wanted(entities))


def _wanted(entities: Iterable[str]) -> frozenset[str]:
    wanted = frozenset(entities)
    unknown = wanted.difference(ENTITIES)
    if unknown:
        raise ValueError(f"unknown PII entities: {sorted(unknown)}")
    return wanted


def _redact_any(value: Any, wanted: frozenset[str]) -> tuple[Any, int]:
    if isinstance(value, str):
        return _redact(value, wanted)
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        total = 0
        for key, item in value.items():
            out[key], count = _redact_any(item, wanted)
            total += count
        return out, total
    if isinstance(value, list | tuple):
        items: list[Any] = []
        total = 0
        for item in value:
            new, count = _redact_any(item, wanted)
            items.append(new)
            total += count
        return (tuple(items) if isinstance(value, tuple) else items), total
    return value, 0


def _redact(text: str, wanted: frozenset[str]) -> tuple[str, int]:
    if not wanted or not text or not _MAYBE_PII_RE.search(text):
        return text, 0
    work = text
    found: list[tuple[int, int, str]] = []
    for name, finder in _DETECTORS:
        if name not in wanted:
            continue
        spans = finder(work)
        if not spans:
            continue
        found.extend((start, end, name) for start, end in spans)
        work = _mask(work, spans)
    if not found:
        return text, 0
    found.sort()
    parts: list[str] = []
    last = 0
    for start, end, name in found:
        parts.append(text[last:start])
        parts.append(f"[{name}]")
        last = end
    parts.append(text[last:])
    return "".join(parts), len(found)


def _mask(text: str, spans: list[Span]) -> str:
    parts: list[str] = []
    last = 0
    for start, end in sorted(spans):
        parts.append(text[last:start])
        parts.append(_MASK * (end - start))
        last = end
    parts.append(text[last:])
    return "".join(parts)


def _find_emails(text: str) -> list[Span]:
    return [m.span() for m in _EMAIL_RE.finditer(text)]


def _find_ibans(text: str) -> list[Span]:
    spans: list[Span] = []
    for m in _IBAN_RE.finditer(text):
        start, end = m.span()
        if " " not in m.group():
            if _iban_ok(m.group()):
                spans.append((start, end))
            continue
        groups = m.group().split(" ")
        if end < len(text) and text[end].isalnum():  # last group is the head of a longer word
            groups.pop()
        # A following word of four letters or digits may have been taken for a group.
        while len(groups) > 1:
            compact = "".join(groups)
            if len(compact) < 15:
                break
            if _iban_ok(compact):
                spans.append((start, start + len(" ".join(groups))))
                break
            groups.pop()
    return spans


def _iban_ok(compact: str) -> bool:
    iban = compact.upper()
    if not 15 <= len(iban) <= 34 or iban[2:4] in ("00", "01", "99"):
        return False
    if not any(ch.isdigit() for ch in iban[4:]):
        return False
    digits = "".join(str(int(ch, 36)) for ch in iban[4:] + iban[:4])
    return int(digits) % 97 == 1


def _find_cards(text: str) -> list[Span]:
    spans: list[Span] = []
    for run in _DIGIT_RUN_RE.finditer(text):
        start, end = run.span()
        if end - start < 13:
            continue
        groups = [m.span() for m in _DIGITS_RE.finditer(text, start, end)]
        first_glued = start > 0 and (
            _is_word(text[start - 1])
            or text[start - 1] == "+"
            or (text[start - 1] == "." and start > 1 and text[start - 2].isdigit())
        )
        last_glued = end < len(text) and (
            _is_word(text[end])
            or (text[end] == "." and end + 1 < len(text) and text[end + 1].isdigit())
        )
        i = 1 if first_glued else 0
        while i < len(groups):
            stop = _card_at(text, groups, i, len(groups) - 1 if last_glued else len(groups))
            if stop is None:
                i += 1
            else:
                spans.append((groups[i][0], groups[stop][1]))
                i = stop + 1
    return spans


def _card_at(text: str, groups: list[Span], first: int, limit: int) -> int | None:
    """Index of the last group of the longest card starting at group `first`, if any.

    Groups from `limit` on are glued to what follows them and may not be part of a card.
    """
    lengths: list[int] = []
    fits: list[int] = []
    last = first
    while last < limit and len(lengths) < 5:
        if last > first and text[groups[last - 1][1]] != text[groups[first][1]]:
            break  # separators must be consistent
        lengths.append(groups[last][1] - groups[last][0])
        if sum(lengths) > 19:
            break
        if _card_layout_ok(lengths):
            fits.append(last)
        if lengths[0] != 4:
            break  # every grouped layout starts with four digits
        last += 1
    for candidate in reversed(fits):
        digits = "".join(text[start:end] for start, end in groups[first : candidate + 1])
        if _card_number_ok(digits):
            return candidate
    return None


def _card_layout_ok(lengths: list[int]) -> bool:
    if not 13 <= sum(lengths) <= 19:
        return False
    if len(lengths) == 1 or lengths in ([4, 6, 4], [4, 6, 5]):
        return True
    return len(lengths) >= 4 and all(n == 4 for n in lengths[:-1]) and 1 <= lengths[-1] <= 4


def _card_number_ok(digits: str) -> bool:
    return digits[0] in _CARD_FIRST_DIGITS and _luhn_ok(digits)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, ch in enumerate(reversed(digits)):
        digit = ord(ch) - 48
        if index % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _find_ssns(text: str) -> list[Span]:
    spans: list[Span] = []
    for m in _SSN_RE.finditer(text):
        area, group, serial = (
            m.group("a1", "g1", "s1") if m.group("a1") else m.group("a2", "g2", "s2")
        )
        if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
            continue
        spans.append(m.span())
    return spans


def _find_ips(text: str) -> list[Span]:
    spans = [m.span() for m in _IPV6_RE.finditer(text) if _ipv6_ok(m.group())]
    if spans:
        text = _mask(text, spans)
    spans.extend(
        m.span()
        for m in _IPV4_RE.finditer(text)
        if all(int(octet) <= 255 for octet in m.group().split("."))
    )
    return spans


def _ipv6_ok(candidate: str) -> bool:
    import ipaddress  # only once a candidate turns up; most text never needs it

    if not any(ch.isdigit() for ch in candidate.partition("%")[0]):
        return False
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return True


def _find_phones(text: str) -> list[Span]:
    spans: list[Span] = []
    for m in _INTL_PHONE_RE.finditer(text):
        end = _intl_phone_end(text, m.start(), m.end())
        if end is not None:
            spans.append((m.start(), end))
    if spans:
        text = _mask(text, spans)
    spans.extend(m.span() for m in _NANP_RE.finditer(text))
    return spans


def _intl_phone_end(text: str, start: int, end: int) -> int | None:
    """End of the phone number the `+` run at start..end holds, if it holds one."""
    if end < len(text) and _is_word(text[end]):
        return None
    count = 0
    for index in range(start, end):
        if text[index].isdigit():
            count += 1
            if count > 15:  # too long: cut back at the last space before the 16th digit
                cut = text.rfind(" ", start, index)
                if cut < 0:
                    return None
                end = cut
                while not text[end - 1].isdigit():
                    end -= 1
                count = sum(ch.isdigit() for ch in text[start:end])
                break
    return end if count >= 7 else None


def _is_word(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch == "_")


_DETECTORS: tuple[tuple[str, Callable[[str], list[Span]]], ...] = (
    ("EMAIL", _find_emails),
    ("IBAN", _find_ibans),
    ("CREDIT_CARD", _find_cards),
    ("US_SSN", _find_ssns),
    ("IP_ADDRESS", _find_ips),
    ("PHONE", _find_phones),
)
