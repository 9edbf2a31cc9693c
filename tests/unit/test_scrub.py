"""Scrubbing: every spelling of a value, in any mix of escapes, also at the end of a cut
text; nothing else touched."""

from __future__ import annotations

import json

import pytest

from convoship.secrets.scrub import MIN_TAIL, SCRUBBED, Scrubber
from tests.support.spellings import SPELLINGS, VALUE, leaks, spelled


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_every_spelling_is_scrubbed(spelling: str) -> None:
    text = f'HTTP 200\n{{"note": "before", "echo": "{spelled(spelling)}", "n": 1}} after'
    scrubbed = Scrubber([VALUE]).text(text)
    assert leaks(scrubbed) == []
    assert SCRUBBED in scrubbed
    assert scrubbed.startswith('HTTP 200\n{"note": "before", "echo": "')
    assert scrubbed.endswith('", "n": 1} after') or scrubbed.endswith(" after")


@pytest.mark.parametrize("spelling", SPELLINGS)
@pytest.mark.parametrize("fraction", [0.5, 0.75, 0.99])
def test_a_cut_text_loses_the_start_of_a_value(spelling: str, fraction: float) -> None:
    whole = spelled(spelling)
    cut_at = max(MIN_TAIL * 6, int(len(whole) * fraction))  # mid-escape cuts included
    head = whole[:cut_at]
    scrubbed = Scrubber([VALUE]).text("the response was: " + head, cut=True)
    assert scrubbed == "the response was: " + SCRUBBED or (
        spelling.startswith("base64-") and head not in scrubbed and SCRUBBED in scrubbed
    )


def test_a_cut_ending_in_half_an_escape_is_scrubbed_to_the_end() -> None:
    for tail in ("Sk-Live%2", "Sk-Live%", "Sk-Live\\u00", "Sk-Live\\", "Sk-Live\\u002"):
        scrubbed = Scrubber([VALUE]).text("x: " + tail, cut=True)
        assert scrubbed == "x: " + SCRUBBED, tail


def test_only_a_cut_text_is_scrubbed_at_its_end() -> None:
    head = VALUE[:12]
    assert Scrubber([VALUE]).text("x " + head) == "x " + head  # not cut: a mere prefix
    assert Scrubber([VALUE]).text(head + " and more", cut=True) == head + " and more"
    short = VALUE[: MIN_TAIL - 1]  # too little of the value to give anything away
    assert Scrubber([VALUE]).text("x " + short, cut=True) == "x " + short


@pytest.mark.parametrize(
    "text",
    [
        '{"a": "b\\u00e9\\/c", "url": "https://x.test/?q=a%2Fb+c"}',
        "U2stTGl2ZS9 and dXNlcjpw and 536b2d4c",  # short stretches of encodings
        "sk-live is a word here, and Se cret too",
        "",
        "plain text with no escapes at all",
    ],
)
def test_text_without_the_value_is_left_alone(text: str) -> None:
    assert Scrubber([VALUE]).text(text) == text
    assert Scrubber([VALUE]).text(text, cut=True) == text


def test_values_inside_one_another_and_side_by_side() -> None:
    scrub = Scrubber(["abcdefgh-1234", "defgh-12"])
    assert scrub.text("<abcdefgh-1234><defgh-12>") == f"<{SCRUBBED}><{SCRUBBED}>"
    assert scrub.text("abcdefgh-1234abcdefgh-1234") == SCRUBBED


def test_values_beyond_the_basic_plane_in_json_surrogates() -> None:
    value = "key-\U0001f600-value-1"
    text = json.dumps({"echo": value})  # "key-\ud83d\ude00-value-1"
    assert "\\ud83d\\ude00" in text
    assert Scrubber([value]).text(text) == f'{{"echo": "{SCRUBBED}"}}'


def test_json_values_are_scrubbed_keys_included() -> None:
    scrub = Scrubber([VALUE])
    args = {"q": VALUE.upper(), VALUE: [1, {"x": spelled("quote")}], "n": None}
    assert scrub.json(args) == {"q": SCRUBBED, SCRUBBED: [1, {"x": SCRUBBED}], "n": None}


def test_an_empty_scrubber_returns_its_input() -> None:
    text = "anything " + VALUE
    assert Scrubber().text(text) is text
    assert not Scrubber() and Scrubber([VALUE])
