"""Normalisation: detectors read NFKC text with ASCII digits; placeholders cover the original."""

from __future__ import annotations

import pytest

from convoship.runtime.pii import ENTITIES, find_pii, redact_text
from convoship.runtime.pii.normalize import normalize


def test_ascii_text_is_its_own_normal_form() -> None:
    normalized = normalize("plain text 123")
    assert normalized.text == "plain text 123"
    assert normalized.original_span(6, 10) == (6, 10)


def test_spans_map_back_onto_the_original() -> None:
    text = "tel ０２０ ７９４６ ０９５８ ok"
    normalized = normalize(text)
    assert normalized.text == "tel 020 7946 0958 ok"
    assert normalized.original_span(4, 17) == (4, 17)
    widened = normalize("ﬁ x٣")  # a ligature becomes two letters, an Arabic-Indic three one digit
    assert widened.text == "fi x3"
    assert widened.original_span(1, 2) == (0, 1)  # half of the ligature is all of it
    assert widened.original_span(4, 5) == (3, 4)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("card ４１１１ １１１１ １１１１ １１１１!", "card [CREDIT_CARD]!"),
        ("card 4111\u200b1111\u200b1111\u200b1111", "card [CREDIT_CARD]"),  # zero-width spaces
        ("tel\u00a0+44\u00a020\u00a07946\u00a00958", "tel\u00a0[PHONE]"),  # no-break spaces
        ("SSN ١٢٣-٤٥-٦٧٨٩", "SSN [US_SSN]"),
        ("ip １９２．１６８．０．１", "ip [IP_ADDRESS]"),
        ("Grüße, jo\u0308rg@beispiel.de!", "Grüße, [EMAIL]!"),
    ],
)
def test_other_forms_are_redacted_whole(text: str, expected: str) -> None:
    assert redact_text(text, ENTITIES)[0] == expected


def test_findings_are_original_spans() -> None:
    text = "é ０２０ ７９４６ ０９５８"
    [finding] = find_pii(text, ["PHONE"])
    assert text[finding.start : finding.end] == "０２０ ７９４６ ０９５８"
    assert finding.entity == "PHONE"
