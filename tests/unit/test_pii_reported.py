"""Every example reported in issue 12: what was missed is now redacted whole, and what was
redacted by mistake is left alone."""

from __future__ import annotations

from typing import Any

import pytest

from convoship.runtime.pii import ENTITIES, redact_text, redact_value
from convoship.runtime.pii.cards import luhn_ok


def redact(text: str) -> str:
    return redact_text(text, ENTITIES)[0]


@pytest.mark.parametrize(
    "phone",
    [
        "(415) 555-0132",
        "4155550132",
        "020 7946 0958",
        "07700 900123",
        "030 12345678",
        "01 23 45 67 89",
        "98765 43210",
        "03-1234-5678",
        "(02) 9876 5432",
        "０２０ ７９４６ ０９５８",  # full-width digits
        "٠٢٠ ٧٩٤٦ ٠٩٥٨",  # Arabic-Indic digits
        "۰۲۰ ۷۹۴۶ ۰۹۵۸",  # Extended Arabic-Indic (Persian) digits
    ],
)
def test_phones_without_a_plus(phone: str) -> None:
    assert redact(f"call me on {phone} please") == "call me on [PHONE] please"


@pytest.mark.parametrize(
    "card",
    [
        "4111.1111.1111.1111",  # dots
        "4111 1111-1111.1111",  # mixed
        "4111  1111  1111  1111",  # doubled
        "4111--1111--1111--1111",
        "4111_1111_1111_1111",  # underscores
        "4111/1111/1111/1111",  # slashes
        "41111111 11111111",  # 8-8
    ],
)
def test_cards_with_other_separators(card: str) -> None:
    assert redact(f"my card: {card}, exp 12/27") == "my card: [CREDIT_CARD], exp 12/27"


@pytest.mark.parametrize("text", ["SSN 123456789", "ssn: 123456789", "my SSN is 123.45.6789"])
def test_ssns_bare_or_dotted(text: str) -> None:
    assert redact(text).endswith("[US_SSN]")
    assert "6789" not in redact(text)


@pytest.mark.parametrize(
    "iban",
    [
        "DE89-3704-0044-0532-0130-00",
        "DE89 370400440532013000",
        "DE8937 0400 4405 3201 3000",
        "GB82WEST 1234 5698 7654 32",
        "gb82-west-1234-5698-7654-32",
    ],
)
def test_ibans_with_dashes_or_odd_grouping(iban: str) -> None:
    assert redact(f"IBAN {iban}.") == "IBAN [IBAN]."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("jörg@beispiel.de", "[EMAIL]"),  # was `jö[EMAIL]`
        ("write to jörg@beispiel.de today", "write to [EMAIL] today"),
        ("jo\u0308rg@beispiel.de", "[EMAIL]"),  # the same, with a combining diaeresis
        ("info@bücher.de", "[EMAIL]"),
        ("用户@例子.中国", "[EMAIL]"),
        ("user@xn--bcher-kva.de", "[EMAIL]"),
        ("bob＠example.com", "[EMAIL]"),  # full-width @
        ("ｂｏｂ＠ｅｘａｍｐｌｅ．ｃｏｍ", "[EMAIL]"),
    ],
)
def test_emails_in_any_script(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text", ["dead:beef::cafe", "host dead:beef::cafe up", "2001:db8::1", "fe80::1%eth0"]
)
def test_ipv6_forms(text: str) -> None:
    assert "[IP_ADDRESS]" in redact(text)
    assert "::" not in redact(text)


def test_tool_argument_keys_and_numbers() -> None:
    redacted, count = redact_value({"n": 4111111111111111}, ENTITIES)
    assert (redacted, count) == ({"n": "[CREDIT_CARD]"}, 1)
    redacted, count = redact_value({"bob@example.com": {"+44 20 7946 0958": 4155550132}}, ENTITIES)
    assert (redacted, count) == ({"[EMAIL]": {"[PHONE]": "[PHONE]"}}, 3)
    assert redact_value([4111111111111111.0, {"ssn": 123456789}], ENTITIES) == (
        ["[CREDIT_CARD]", {"ssn": "[US_SSN]"}],
        2,
    )


def test_clashing_redacted_keys_keep_every_value() -> None:
    value: dict[str, Any] = {"a@example.com": 1, "b@example.com": 2, "[EMAIL]": 3}
    assert redact_value(value, ENTITIES) == (
        {"[EMAIL]": 1, "[EMAIL] (2)": 2, "[EMAIL] (3)": 3},
        2,
    )


@pytest.mark.parametrize(
    "text",
    [
        "version 1.2.3.4",
        "Version: 10.0.0.1",
        "+1500000",
        "a::1",
        "x = a::1;",
        "GB83 WEST 1234 5698 7654 32",  # an IBAN with a bad checksum
        "DE88 3704 0044 0532 0130 00",
        "DE88370400440532013000",
        "DE 88 3704 0044 0532 0130 00",
    ],
)
def test_mistaken_redactions_are_gone(text: str) -> None:
    assert redact_text(text, ENTITIES) == (text, 0)


@pytest.mark.parametrize(
    "bad_iban",
    ["DE02 3704 0044 0532 0130 01", "DE 02 3704 0044 0532 0130 01", "DE02-3704-0044-0532-0130-01"],
)
def test_a_bad_iban_is_not_a_card(bad_iban: str) -> None:
    # Its account part passes Luhn and is laid out as a 4-4-4-4-2 card: still no card.
    assert luhn_ok("".join(ch for ch in bad_iban if ch.isdigit())[2:])
    assert redact_text(bad_iban, ENTITIES) == (bad_iban, 0)
