"""Spellings that slipped past REDACT (an attacker's review): numbers split by dash-like
characters other than `-` or by an ideographic full stop, and PII percent-encoded in URLs.
Each is now redacted whole; where such a character is not a separator, text stays as it was."""

from __future__ import annotations

import pytest

from convoship.runtime.pii import ENTITIES, find_pii, redact_text
from convoship.runtime.pii.urlcoded import url_decoded


def redacted(text: str) -> str:
    return redact_text(text, ENTITIES)[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Call me on 415\u2013555\u20130132 or +1 (415) 555\u20110132",
            "Call me on [PHONE] or [PHONE]",
        ),
        (
            "My card is 4111\u20131111\u20131111\u20131111, SSN 123\u201345\u20136789",
            "My card is [CREDIT_CARD], SSN [US_SSN]",
        ),
        ("SSN 123\u201045\u20106789 on file", "SSN [US_SSN] on file"),  # U+2010 hyphen
        ("tel ４１５\u2212５５５\u2212０１３２", "tel [PHONE]"),  # U+2212 minus, full-width digits
        ("router at 192\u3002168\u30021\u30021 is down", "router at [IP_ADDRESS] is down"),
        (
            "https://x.test/contact?email=jane.doe%40gmail.com&phone=%2B14155550132",
            "https://x.test/contact?email=[EMAIL]&phone=[PHONE]",
        ),
    ],
    ids=["en dash, non-breaking hyphen", "card and SSN", "hyphen", "minus", "full stop", "url"],
)
def test_the_reviewed_spellings_are_redacted_whole(text: str, expected: str) -> None:
    assert redacted(text) == expected


@pytest.mark.parametrize(
    "dash",
    ["\u2012", "\u2014", "\u2015", "\ufe58", "\ufe63", "\uff0d", "\u2e3a", "\u30fc", "\uff70"],
)
def test_every_dash_like_character_separates_digits(dash: str) -> None:
    assert redacted(f"call 415{dash}555{dash}0132 now") == "call [PHONE] now"
    assert redacted(f"call 415 {dash} 555 {dash} 0132 now") == "call [PHONE] now"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ssn=123-45-6789&x=1", "ssn=[US_SSN]&x=1"),
        ("/users/jane.doe%40example.org/profile", "/users/[EMAIL]/profile"),
        ("?card=4111%201111%201111%201111", "?card=[CREDIT_CARD]"),
        ("?q=call+me+415+555+0132&lang=en", "?q=call+me+[PHONE]&lang=en"),  # `+` is a space
        ("?tel=+447946095800", "?tel=[PHONE]"),  # at a value's start `+` stays a plus
        ("?ip=10%2E0%2E0%2E7", "?ip=[IP_ADDRESS]"),
        ("?e=j%C3%B6rg%40beispiel.de", "?e=[EMAIL]"),  # UTF-8 escapes decode to one letter
        ("?n=%EF%BC%94%EF%BC%91%EF%BC%91%EF%BC%91 1111 1111 1111", "?n=[CREDIT_CARD]"),
    ],
)
def test_percent_encoded_pii_is_redacted_over_its_encoded_span(text: str, expected: str) -> None:
    assert redacted(text) == expected


def test_a_decoded_view_maps_each_character_back_onto_its_escape() -> None:
    view = url_decoded("a=%40b+c&d=%C3%A9?")
    assert view.text == "a=@b+c&d=é?"  # no query (no `?` before it): `+` stays
    assert view.original_span(2, 3) == (2, 5)
    assert view.original_span(9, 10) == (11, 17)
    query = url_decoded("x?a=b+c%2Bd&e=+f")
    assert query.text == "x?a=b c+d&e=+f"
    assert query.original_span(5, 6) == (5, 6)
    assert query.original_span(7, 8) == (7, 10)
    plain = url_decoded("nothing encoded here? no, 100% plain%zz %0")
    assert plain.text == "nothing encoded here? no, 100% plain%zz %0"
    assert plain.starts is None  # no map built: the text is its own view


@pytest.mark.parametrize(
    "text",
    [
        "%00%0A%E2 stays: a NUL, a newline and half a character",  # never decoded
        "%C3%28 is not UTF-8",
    ],
)
def test_what_is_not_a_printable_character_stays_encoded(text: str) -> None:
    view = url_decoded(text)
    assert "\x00" not in view.text and "\n" not in view.text
    assert view.text.startswith("%")


@pytest.mark.parametrize(
    "text",
    [
        "jane@example.com\u2014thanks for the quick reply",  # an em dash after prose
        "I was there 9\u20135, then left",
        "pages 10\u201312 and 2010\u20132015",
        "用户@例子.中国。谢谢",  # an ideographic full stop ends the sentence, not the address
        "共3。我们明天见",
        "コーヒー 2杯",
        "50% off, 100%25 sure",
        "https://x.test/search?q=order+2024+0115+0930",
    ],
)
def test_separators_are_read_only_between_digits(text: str) -> None:
    findings = find_pii(text, ENTITIES)
    emails = [f for f in findings if f.entity == "EMAIL"]
    assert [f for f in findings if f.entity != "EMAIL"] == []
    for email in emails:  # the whole address, nothing after it
        assert text[: email.end].endswith((".com", ".中国"))
