"""Spellings that slipped past REDACT (a third attacker's review): emails with an ideographic or
escaped `@`/`.`, cards split by newlines, tabs, commas or pipes, glued to letters or written as
an array, phone extensions, more SSN layouts and cues, and more password cues. Each is now
redacted whole; the near misses beside them stay as they were."""

from __future__ import annotations

import pytest

from convoship.runtime.pii import ENTITIES, redact_text, redact_value
from convoship.runtime.pii.urlcoded import url_decoded


def redacted(text: str) -> str:
    return redact_text(text, ENTITIES)[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail jane.doe@gmail\u3002com now", "mail [EMAIL] now"),  # ideographic full stop
        ("mail jane.doe@gmail\uff0ecom now", "mail [EMAIL] now"),  # full-width full stop
        ("mail jane.doe@gmail\uff61com now", "mail [EMAIL] now"),  # half-width ideographic
        ("mail tanaka@mail\u3002example\u3002co\u3002jp", "mail [EMAIL]"),
        ("mail jane.doe\\u0040gmail.com now", "mail [EMAIL] now"),
        ("mail jane.doe&#64;gmail.com now", "mail [EMAIL] now"),
        ("mail jane.doe&#x40;gmail.com now", "mail [EMAIL] now"),
        ("mail jane.doe&commat;gmail&period;com now", "mail [EMAIL] now"),
        ("mail jane.doe%40gmail.com now", "mail [EMAIL] now"),
        ("mail jane.doe\\x40gmail\\u002ecom now", "mail [EMAIL] now"),
    ],
)
def test_emails_with_other_full_stops_or_an_escaped_at_are_redacted(
    text: str, expected: str
) -> None:
    assert redacted(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("请发到 jane@example.com。谢谢", "请发到 [EMAIL]。谢谢"),  # the sentence's full stop
        ("mail jane@example.com\u3002Thanks", "mail [EMAIL]\u3002Thanks"),
        ("感谢@小明。谢谢", "感谢@小明。谢谢"),  # a mention, not an address
        ("see 3\u30022 and 4\u30021", "see 3\u30022 and 4\u30021"),
        ("price &#36;40, \\u20ac35, C:\\Users\\me", "price &#36;40, \\u20ac35, C:\\Users\\me"),
    ],
)
def test_ideographic_full_stops_and_escapes_elsewhere_stay(text: str, expected: str) -> None:
    assert redacted(text) == expected


def test_an_escape_is_redacted_over_all_of_its_characters() -> None:
    view = url_decoded("a&#64;b \\u0040 &#x40; &commat; \\n &#0; \\u0000 &bogus;")
    assert view.text == "a@b @ @ @ \n &#0; \\u0000 &bogus;"
    assert view.original_span(1, 2) == (1, 6)  # `&#64;`
    assert view.original_span(4, 5) == (8, 14)  # `\u0040`
    assert redacted("x jane&#64;example.org y") == "x [EMAIL] y"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("card 4111\n1111\n1111\n1111 ok", "card [CREDIT_CARD] ok"),
        ("card 4111\t1111\t1111\t1111 ok", "card [CREDIT_CARD] ok"),
        ("card 4111,1111,1111,1111 ok", "card [CREDIT_CARD] ok"),
        ("card 4111|1111|1111|1111 ok", "card [CREDIT_CARD] ok"),
        ("card 4111 | 1111 | 1111 | 1111 ok", "card [CREDIT_CARD] ok"),
        ("card 4111.1111.1111.1111 ok", "card [CREDIT_CARD] ok"),
        ("card4111111111111111exp", "card[CREDIT_CARD]exp"),
        ("card [4111, 1111, 1111, 1111]", "card [[CREDIT_CARD]]"),
        ('{"pan": [5500, 0000, 0000, 0004]}', '{"pan": [[CREDIT_CARD]]}'),
        ("card\\n4111\\n1111\\n1111\\n1111", "card\\n[CREDIT_CARD]"),  # escaped newlines
        ("name,4111111111111111,12,27", "name,[CREDIT_CARD],12,27"),  # a CSV row
        ("card 4111111111111111, 4111111111111111", "card [CREDIT_CARD], [CREDIT_CARD]"),
    ],
)
def test_cards_in_other_layouts_are_redacted(text: str, expected: str) -> None:
    assert redacted(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "we shipped in 2016, 2017, 2018, 2019 and 2020",  # 2016201720182019 passes Luhn
        "totals: 1,234,567,890,123 units",
        "sha 3f4111111111111111a0c9",  # Luhn-valid digits inside a hexadecimal word
        "version 4.1.1.1 released 2024.01.15",
        "amount 4111111111111111.50 exceeds the limit",  # a decimal point
        "rows 4111\n1112\n1113\n1114",
    ],
)
def test_numbers_that_only_look_like_cards_stay(text: str) -> None:
    assert redacted(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call 415-555-0132 x123 now", "call [PHONE] now"),
        ("call 415-555-0132 ext. 123 now", "call [PHONE] now"),
        ("call 415-555-0132 ext123 now", "call [PHONE] now"),
        ("call 415-555-0132 #123 now", "call [PHONE] now"),
        ("call 415-555-0132x123 now", "call [PHONE] now"),
        ("call +44 20 7946 0958 extension 4", "call [PHONE]"),
        ("call 415-555-0132 xbox now", "call [PHONE] xbox now"),  # no extension
        ("order #123 shipped, room 101 ext. 2", "order #123 shipped, room 101 ext. 2"),
    ],
)
def test_phone_extensions_are_redacted_with_their_number(text: str, expected: str) -> None:
    assert redacted(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ssn 123 - 45 - 6789 ok", "ssn [US_SSN] ok"),
        ("ssn 123/45/6789 ok", "ssn [US_SSN] ok"),
        ("ssn 123_45_6789 ok", "ssn [US_SSN] ok"),
        ("ssn 123.45.6789 ok", "ssn [US_SSN] ok"),
        ("my social is 123456789", "my social is [US_SSN]"),
        ("SSN: 123456789", "SSN: [US_SSN]"),
        ("ssn#123456789", "ssn#[US_SSN]"),
        ("social security no. 123456789", "social security no. [US_SSN]"),
    ],
)
def test_more_ssn_layouts_and_cues_are_redacted(text: str, expected: str) -> None:
    assert redacted(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "order 123456789",  # nine bare digits without a cue
        "my number is 123456789",
        "social media followers: 123456789",
        "see /api/123/45/6789/items",
        "file_123_45_6789.csv",
        "ssn 123 -45- 6789",  # the two separators differ
    ],
)
def test_nine_digits_without_a_cue_or_a_layout_stay(text: str) -> None:
    assert redacted(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("passwd hunter2", "passwd [CREDENTIAL]"),
        ("pwd: hunter2", "pwd: [CREDENTIAL]"),
        ("password is hunter2", "password is [CREDENTIAL]"),
        ("pass=hunter2", "pass=[CREDENTIAL]"),
        ('{"pass": "hunter2"}', '{"pass": "[CREDENTIAL]"}'),
        ("db_pass=s3cret99", "db_pass=[CREDENTIAL]"),
        ("the password Hunter2 works", "the password [CREDENTIAL] works"),
        ("passcode: 482913", "passcode: [CREDENTIAL]"),
    ],
)
def test_more_password_cues_are_redacted(text: str, expected: str) -> None:
    assert redacted(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "boarding pass: AB12CD34",
        "compass: north123",
        "bypass=123456",
        "passport=X1234567",
        "password reset link sent",
        "token abc123def456 expired",  # a bare space counts after a password word only
    ],
)
def test_words_that_only_contain_pass_stay(text: str) -> None:
    assert redacted(text) == text


def test_a_tool_argument_spelled_these_ways_is_redacted() -> None:
    value = {"note": "card4111111111111111exp, mail jane&#64;example.org", "pass": "hunter2"}
    assert redact_value(value, ENTITIES) == (
        {"note": "card[CREDIT_CARD]exp, mail [EMAIL]", "pass": "[CREDENTIAL]"},
        3,
    )
