"""PII redaction: each entity found in context, checksums honoured, prose left alone."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from convoship.runtime.pii import ENTITIES, redact_text, redact_value


def redact(text: str) -> str:
    return redact_text(text, ENTITIES)[0]


def test_entities_are_the_documented_seven() -> None:
    assert ENTITIES == (
        "EMAIL",
        "PHONE",
        "CREDIT_CARD",
        "US_SSN",
        "IBAN",
        "IP_ADDRESS",
        "CREDENTIAL",
    )


# --- EMAIL -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail bob@example.com now", "mail [EMAIL] now"),
        ("Reach me at bob.smith+tag@mail.example.co.uk.", "Reach me at [EMAIL]."),
        ("JOHN_DOE@EXAMPLE.COM", "[EMAIL]"),
        ("(a.b-c@sub.mail-host.io)", "([EMAIL])"),
        ("<jane%ops@example.org>, x@y.travel", "<[EMAIL]>, [EMAIL]"),
        ("mailto:john@example.com?subject=hi", "mailto:[EMAIL]?subject=hi"),
        ("4111111111111111@example.com", "[EMAIL]"),  # email wins over the card inside it
    ],
)
def test_emails_are_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "user@localhost",
        "a@b.c",
        "@handle and @@",
        "a@a.a@a.a",
        "decorators like @pytest.mark.parametrize",
    ],
)
def test_email_lookalikes_are_left_alone(text: str) -> None:
    assert redact_text(text, ENTITIES) == (text, 0)


# --- CREDIT_CARD -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("card 4111111111111111 exp 12/25", "card [CREDIT_CARD] exp 12/25"),
        ("card 4111 1111 1111 1111, thanks", "card [CREDIT_CARD], thanks"),
        ("card 4111-1111-1111-1111.", "card [CREDIT_CARD]."),
        ("mc 5555555555554444", "mc [CREDIT_CARD]"),
        ("amex 3782 822463 10005", "amex [CREDIT_CARD]"),
        ("amex 378282246310005", "amex [CREDIT_CARD]"),
        ("diners 3056 930902 5904", "diners [CREDIT_CARD]"),
        ("discover 6011-1111-1111-1117", "discover [CREDIT_CARD]"),
        ("old visa 4222222222222", "old visa [CREDIT_CARD]"),
        ('{"pan": "4111111111111111"}', '{"pan": "[CREDIT_CARD]"}'),
        ("Order 12345 4111111111111111", "Order 12345 [CREDIT_CARD]"),
        ("4111 1111 1111 1111 2025", "[CREDIT_CARD] 2025"),
        ("order #4111111111111111", "order #[CREDIT_CARD]"),
        ("6011-1111 1111-1117", "[CREDIT_CARD]"),  # mixed separators (issue 12)
    ],
)
def test_luhn_valid_cards_are_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "card 4111111111111112",  # one digit changed: Luhn fails
        "card 4111 1111 1111 1112",
        "amex 3782 822463 10006",
        "5555555555554445",
        "1700000000000",  # epoch milliseconds (Luhn-valid, but no card starts with 1)
        "tx 41111111111111111111",  # 20 digits
        "A4111111111111111",  # glued to letters: an identifier
        "4111111111111111.5",
        "scores 100 200 300 400 500",
    ],
)
def test_non_cards_are_left_alone(text: str) -> None:
    assert redact_text(text, ENTITIES) == (text, 0)


# --- US_SSN ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SSN: 123-45-6789", "SSN: [US_SSN]"),
        ("my ssn is 078 05 1120.", "my ssn is [US_SSN]."),
        ("(234-56-7890)", "([US_SSN])"),
        ("899-99-9999 is the top", "[US_SSN] is the top"),
    ],
)
def test_ssns_are_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "000-12-3456",
        "666-12-3456",
        "900-12-3456",
        "987-65-4321",
        "999 12 3456",
        "123-00-4567",
        "123-45-0000",
        "123-45-6789-1",  # part of a longer number
        "x123-45-6789",
        "123456789",  # bare nine digits are an SSN only after an SSN label
        "123-45 6789",
    ],
)
def test_invalid_ssns_are_left_alone(text: str) -> None:
    assert redact_text(text, ENTITIES) == (text, 0)


# --- IBAN --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pay GB82 WEST 1234 5698 7654 32 today", "pay [IBAN] today"),
        ("GB82WEST12345698765432", "[IBAN]"),
        ("gb82 west 1234 5698 7654 32", "[IBAN]"),
        ("DE89370400440532013000.", "[IBAN]."),
        ("IBAN: DE89 3704 0044 0532 0130 00, BIC COBADEFFXXX", "IBAN: [IBAN], BIC COBADEFFXXX"),
        ("NL91ABNA0417164300 or NL91 ABNA 0417 1643 00", "[IBAN] or [IBAN]"),
        ("FR1420041010050500013M02606", "[IBAN]"),
        ("CH9300762011623852957", "[IBAN]"),
        ("BE68 5390 0754 7034 then more", "[IBAN] then more"),  # "then" is not a group
    ],
)
def test_valid_ibans_are_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "GB83 WEST 1234 5698 7654 32",  # broken check digits
        "GB82 WEST 1234 5698 7654 33",
        "DE88370400440532013000",
        "DE89370400440532013001",
        "AB12 CDEF GHIJ KLMN",  # no digits in the account part
    ],
)
def test_invalid_ibans_are_not_redacted_as_ibans(text: str) -> None:
    assert "[IBAN]" not in redact(text)


# --- IP_ADDRESS --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("from 192.168.1.10 today", "from [IP_ADDRESS] today"),
        ("host 10.0.0.1:8080", "host [IP_ADDRESS]:8080"),
        ("http://203.0.113.7/admin", "http://[IP_ADDRESS]/admin"),
        ("0.0.0.0 and 255.255.255.255.", "[IP_ADDRESS] and [IP_ADDRESS]."),
        ("v6 2001:db8::8a2e:370:7334", "v6 [IP_ADDRESS]"),
        ("2001:0db8:85a3:0000:0000:8a2e:0370:7334", "[IP_ADDRESS]"),
        ("loopback ::1.", "loopback [IP_ADDRESS]."),
        ("mapped ::ffff:10.0.0.1", "mapped [IP_ADDRESS]"),
        ("link fe80::1%eth0 up", "link [IP_ADDRESS] up"),
        ("[2606:4700:4700::1111]:443", "[[IP_ADDRESS]]:443"),
    ],
)
def test_ip_addresses_are_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "version 1.2.3.4.5",
        "256.1.1.1",
        "1.2.3",
        "std::vector and Foo::Bar",
        "dead::beef",
        "12:30:45",
        "ratio 3:2",
        "mac 00:1A:2B:3C:4D:5E",
    ],
)
def test_ip_lookalikes_are_left_alone(text: str) -> None:
    assert redact_text(text, ENTITIES) == (text, 0)


# --- PHONE -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call (415) 555-0132 now", "call [PHONE] now"),
        ("call 415-555-0132.", "call [PHONE]."),
        ("call 415.555.0132", "call [PHONE]"),
        ("call 415 555 0132", "call [PHONE]"),
        ("call (415)555-0132", "call [PHONE]"),
        ("call +1 415 555 0132", "call [PHONE]"),
        ("call +1 (415) 555-0132", "call [PHONE]"),
        ("call +14155550132", "call [PHONE]"),
        ("toll free 1-800-555-0199", "toll free [PHONE]"),
        ("tel:+1-415-555-0132", "tel:[PHONE]"),
        ("uk +44 20 7946 0958", "uk [PHONE]"),
        ("uk +44 (0) 20 7946 0958", "uk [PHONE]"),
        ("fr +33 1 23 45 67 89", "fr [PHONE]"),
        ("de +49-30-1234567", "de [PHONE]"),
        ("in +91.98765.43210", "in [PHONE]"),
        ("(+44 20 7946 0958)", "([PHONE])"),
        ("+44 20 7946 0958 2024 1234", "[PHONE] 2024 1234"),  # cut back to 15 digits at most
    ],
)
def test_phone_numbers_are_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "555-0132",
        "ext 1234",
        "+1 and +12 votes",
        "+123456 points",  # too few digits
        "call 123-456-7890",  # no area code starts with 1
        "id 4155550132",  # an identifier's label: not a phone number
        "C++17",
        "1.2.3+20240115",
    ],
)
def test_phone_lookalikes_are_left_alone(text: str) -> None:
    assert redact_text(text, ENTITIES) == (text, 0)


def test_phone_does_not_eat_other_entities() -> None:
    text = "+1 415 555 0132 4111 1111 1111 1111, 123-45-6789, DE89370400440532013000, 2024-01-15"
    assert redact_text(text, ENTITIES) == (
        "[PHONE] [CREDIT_CARD], [US_SSN], [IBAN], 2024-01-15",
        4,
    )


# --- prose, dates, numbers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Meeting on 2024-01-15 at 10:30, or 01/15/2024, or 15.01.2024.",
        "Logged 2024-01-15T10:30:00Z and 2024-01-15 10:30:00.123+02:00",
        "2024-01-15 2024-01-16 2024-01-17 2024-01-18",
        "Times 10:30, 23:59:59, 12:30:45.123",
        "uuid 123e4567-e89b-12d3-a456-426614174000",
        "uuid 550e8400-e29b-41d4-a716-446655440000",
        "uuid 12345678-1234-1234-1234-123456789012",
        "Upgrade from 1.2.3 to v2.10.0 (Python 3.12.1, 1.2.3-beta.4)",
        "Your order #12345 ships soon; order number 98765432.",
        "Total $1,234.56, or EUR 4 999,00 or 1,234,567,890.00",
        "Please go to room 101 on floor 3.",
        "I have 2 kids, 3 dogs and 1234 5678 stamps.",
        "Years 2021 2022 2023 2024",
        "ISBN 978-3-16-148410-0",
        "Tracking 1Z999AA10123456784",
        "Nothing to see here: just words, [EMAIL] and [PHONE] placeholders.",
        "",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact_text(text, ENTITIES) == (text, 0)


def test_mixed_transcript() -> None:
    text = (
        "Hi, I'm reachable at jane.doe@example.com or (415) 555-0132. My card is "
        "4111 1111 1111 1111 and SSN 123-45-6789; refund to GB82 WEST 1234 5698 7654 32. "
        "Logged in from 203.0.113.7 on 2024-01-15 about order #12345."
    )
    assert redact_text(text, ENTITIES) == (
        "Hi, I'm reachable at [EMAIL] or [PHONE]. My card is "
        "[CREDIT_CARD] and SSN [US_SSN]; refund to [IBAN]. "
        "Logged in from [IP_ADDRESS] on 2024-01-15 about order #12345.",
        6,
    )


def test_redaction_is_idempotent() -> None:
    text = "bob@example.com, +44 20 7946 0958, 4111111111111111, 10.0.0.1"
    once, count = redact_text(text, ENTITIES)
    assert count == 4
    assert redact_text(once, ENTITIES) == (once, 0)


# --- entity filter -----------------------------------------------------------------------------


def test_only_requested_entities_are_redacted() -> None:
    text = "bob@example.com or 415-555-0132 from 10.0.0.1"
    assert redact_text(text, ["EMAIL"]) == ("[EMAIL] or 415-555-0132 from 10.0.0.1", 1)
    assert redact_text(text, ("PHONE", "IP_ADDRESS")) == (
        "bob@example.com or [PHONE] from [IP_ADDRESS]",
        2,
    )
    assert redact_text(text, []) == (text, 0)


def test_unrequested_entity_still_is_not_seen_as_another() -> None:
    # Without CREDIT_CARD the card's digits stay; they do not turn into a phone number.
    assert redact_text("card 4111 1111 1111 1111", ["PHONE"]) == ("card 4111 1111 1111 1111", 0)


def test_entity_order_in_the_request_does_not_matter() -> None:
    text = "+1 415 555 0132 and 123-45-6789"
    assert redact_text(text, ["PHONE", "US_SSN"]) == redact_text(text, ["US_SSN", "PHONE"])


@pytest.mark.parametrize("entities", [["NAME"], ["email"], "EMAIL"])
def test_unknown_entities_are_refused(entities: Any) -> None:
    with pytest.raises(ValueError, match="unknown PII entities"):
        redact_text("bob@example.com", entities)
    with pytest.raises(ValueError, match="unknown PII entities"):
        redact_value({"a": "bob@example.com"}, entities)


# --- redact_value ------------------------------------------------------------------------------


def test_redact_value_walks_nested_data_without_mutating_it() -> None:
    value: dict[str, Any] = {
        "to": "bob@example.com",
        "bob@example.com": "keys are redacted too",
        "recipients": ["a@example.com", {"phone": "+44 20 7946 0958", "n": 4111111111111111}],
        "card": "4111111111111111",
        "pair": ("10.0.0.1", 7),
        "flags": [True, False, None, 1.5],
        "note": "nothing here",
    }
    before = copy.deepcopy(value)
    redacted, count = redact_value(value, ENTITIES)
    assert value == before
    assert count == 7
    assert redacted == {
        "to": "[EMAIL]",
        "[EMAIL]": "keys are redacted too",
        "recipients": ["[EMAIL]", {"phone": "[PHONE]", "n": "[CREDIT_CARD]"}],
        "card": "[CREDIT_CARD]",
        "pair": ("[IP_ADDRESS]", 7),
        "flags": [True, False, None, 1.5],
        "note": "nothing here",
    }
    assert redacted is not value
    assert redacted["recipients"] is not value["recipients"]
    assert redacted["recipients"][1] is not value["recipients"][1]


def test_redact_value_counts_every_replacement_in_a_string() -> None:
    assert redact_value(["a@example.com b@example.com", "c@example.com"], ["EMAIL"]) == (
        ["[EMAIL] [EMAIL]", "[EMAIL]"],
        3,
    )


@pytest.mark.parametrize("value", [None, True, 42, 4111111111111112, 3.14, "", [], {}])
def test_redact_value_leaves_scalars_and_empties(value: Any) -> None:
    assert redact_value(value, ENTITIES) == (value, 0)


def test_redact_value_honours_the_entity_filter() -> None:
    value = {"msg": "bob@example.com, 415-555-0132"}
    assert redact_value(value, ["PHONE"]) == ({"msg": "bob@example.com, [PHONE]"}, 1)


# --- hostile input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "1-" * 100_000,
        "1 " * 100_000,
        "4444-" * 40_000,
        "4444 " * 40_000,
        "9" * 200_000,
        "a@a." * 50_000,
        "a@a.a@" * 33_334,
        "a" * 199_999 + "@",
        "1." * 100_000,
        "+1 " * 66_667,
        "+1-" * 66_667,
        ":" * 200_000,
        "1:" * 100_000,
        "1a:" * 66_667,
        "aa11 aaaa " * 20_000,
        "123-45-" * 28_572,
        "(415) " * 33_334,
    ],
    ids=lambda text: repr(text[:6]),
)
def test_hostile_input_completes(text: str) -> None:
    redacted, count = redact_text(text, ENTITIES)
    assert isinstance(redacted, str)
    assert count >= 0
