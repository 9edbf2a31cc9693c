"""Whether digits make a phone number: `phonenumbers` (Google's libphonenumber) asked about a
candidate phones.py found, imported only when a text holds one. Answers are cached per number
(`clear_cache` forgets them: the bench times each message afresh).
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from itertools import accumulate
from typing import Any

_GROUP_RE = re.compile(r"[0-9]++", re.ASCII)
INTERNATIONAL_DIGITS = (7, 16)  # E.164's 15, and a written trunk `(0)`


def international(groups: tuple[str, ...]) -> bool:
    """Whether `+` and these groups make a possible number; a lone digit written after the
    country code may be a trunk or mobile token the number goes without (`+52 1 55 ...`)."""
    digits = "".join(groups)
    low, high = INTERNATIONAL_DIGITS
    if not low <= len(digits) <= high:
        return False
    if _possible_international(digits):
        return True
    return (
        len(groups) > 2
        and len(groups[1]) == 1
        and _possible_international(groups[0] + "".join(groups[2:]))
    )


@lru_cache(maxsize=4096)
def _possible_international(digits: str) -> bool:
    import phonenumbers  # lazy: only text with a phone-like run pays for it

    try:
        number = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_possible_number(number))


@lru_cache(maxsize=4096)
def valid_national(groups: tuple[int, ...], digits: str, regions: tuple[str, ...]) -> bool:
    """Whether `digits`, written in groups of these lengths, is a number of one of `regions`."""
    import phonenumbers

    for region in regions:
        metadata, pattern = _metadata(region)
        prefix = metadata.national_prefix or ""
        lengths = metadata.general_desc.possible_length
        national = (
            (digits, digits[len(prefix) :]) if prefix and digits.startswith(prefix) else (digits,)
        )
        if not any(len(n) in lengths and pattern.fullmatch(n) for n in national):
            continue  # cheaply not a number of this region: no parse
        try:
            number = phonenumbers.parse(digits, region)
        except phonenumbers.NumberParseException:
            continue
        if not phonenumbers.is_valid_number(number):
            continue
        if digits != phonenumbers.national_significant_number(number):
            return True  # written with its trunk prefix: `020 ...`, `1-800-...`
        if not prefix and (all(2 <= n <= 4 for n in groups) or _grouped_as(groups, number)):
            return True  # no trunk prefix at all (ES, IT, MX): `912 345 678` is fine too
        if prefix and _trunk_optional(region, prefix, number) and _grouped_as(groups, number):
            return True
    return False


def _grouped_as(groups: tuple[int, ...], number: Any) -> bool:
    """Whether each written group is one or more whole groups of the number's national format:
    `98765 43210` is, `3782 822463` and `1234-567890` are not (a card, an order number)."""
    import phonenumbers

    formatted = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    lengths = [len(group) for group in _GROUP_RE.findall(formatted)]
    trunk = sum(lengths) - len(phonenumbers.national_significant_number(number))
    cuts = set(accumulate(lengths))
    written = set(accumulate(groups))
    return all(cut + trunk in cuts for cut in written)


def clear_cache() -> None:
    """Forget the numbers already checked (the bench times each message afresh)."""
    _possible_international.cache_clear()
    valid_national.cache_clear()


@cache
def _metadata(region: str) -> tuple[Any, re.Pattern[str]]:
    """The region's metadata, and its pattern of national numbers (compiled once)."""
    from phonenumbers import PhoneMetadata

    metadata = PhoneMetadata.metadata_for_region(region)
    if metadata is None or metadata.general_desc is None:
        raise ValueError(f"unknown phone region: {region!r}")
    return metadata, re.compile(metadata.general_desc.national_number_pattern or "")


def _trunk_optional(region: str, prefix: str, number: Any) -> bool:
    """Regions whose people write national numbers without the trunk prefix."""
    if prefix == "1" or region == "BR":  # North American Numbering Plan; Brazil
        return True
    if region == "IN":
        from phonenumbers import PhoneNumberType, number_type

        return number_type(number) in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)
    return False
