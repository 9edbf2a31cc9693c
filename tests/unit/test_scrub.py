"""Scrubbing: every spelling of a value, in any mix of escapes, whole also where a cut splits
it; nothing else touched, a prefix of a value included."""

from __future__ import annotations

import json

import pytest

from convoship.secrets.scrub import SCRUBBED, Scrubber
from tests.support.spellings import FULL_WIDTH, SPELLINGS, VALUE, leaks, spelled


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_every_spelling_is_scrubbed(spelling: str) -> None:
    text = f'HTTP 200\n{{"note": "before", "echo": "{spelled(spelling)}", "n": 1}} after'
    scrubbed = Scrubber([VALUE]).text(text)
    assert leaks(scrubbed) == []
    assert SCRUBBED in scrubbed
    assert scrubbed.startswith('HTTP 200\n{"note": "before", "echo": "')
    assert scrubbed.endswith('", "n": 1} after') or scrubbed.endswith(" after")


@pytest.mark.parametrize("spelling", SPELLINGS)
@pytest.mark.parametrize("fraction", [0.0, 0.5, 0.99])
def test_a_value_a_cut_splits_goes_whole(spelling: str, fraction: float) -> None:
    whole = spelled(spelling)
    text = "the response was: " + whole + " and more"
    keep = len("the response was: ") + max(1, int(len(whole) * fraction))
    scrubbed = Scrubber([VALUE]).text(text, keep=keep)
    # what the whole text becomes, cut where the original was: no part of a value is left
    assert Scrubber([VALUE]).text(text).startswith(scrubbed) and leaks(scrubbed) == []
    # base64 of "user:" + value: the characters that encode "user:" are not the value's
    assert SCRUBBED in scrubbed or (spelling.startswith("base64-") and scrubbed == text[:keep])


def test_a_cut_keeps_what_comes_before_it_and_nothing_after() -> None:
    scrub = Scrubber([VALUE])
    text = "0123456789 " + VALUE + " tail"
    assert scrub.text(text, keep=5) == "01234"
    assert scrub.text(text, keep=11) == "0123456789 "
    assert scrub.text(text, keep=len(text)) == "0123456789 " + SCRUBBED + " tail"
    assert Scrubber().text(text, keep=5) == "01234"


@pytest.mark.parametrize("size", [1, 6, 12, len(VALUE) - 1])
def test_a_prefix_of_a_value_is_left_as_any_other_text(size: int) -> None:
    """No tail that merely begins a value is scrubbed: that would confirm a guess."""
    scrub = Scrubber([VALUE])
    for guess in (VALUE[:size], VALUE[:size].upper(), spelled("quote")[:size]):
        assert scrub.text("x " + guess) == "x " + guess
        assert scrub.text("x " + guess + " y", keep=len(guess) + 2) == "x " + guess


def test_reach_covers_every_spelling() -> None:
    scrub = Scrubber([VALUE, "k"])
    assert scrub.reach >= max(len(spell(VALUE).encode()) for spell in SPELLINGS.values())
    assert Scrubber().reach == 0


@pytest.mark.parametrize(
    "text",
    [
        '{"a": "b\\u00e9\\/c", "url": "https://x.test/?q=a%2Fb+c"}',
        "U2stTGl2ZS9 and dXNlcjpw and 536b2d4c",  # short stretches of encodings
        "sk-live is a word here, and Se cret too",
        "a &amp; b &#x41; &lt;tag&gt; &nbsp; &bogus; &#99999999; &#xD800; & alone",
        "Full width text".translate(FULL_WIDTH) + ", e\u0301 and \ufb01, zero\u200bwidth\u00ad",
        "53:6b:2d:4c 536b2d4c \\x53\\x6b Sk-Live/ %2525 %5Cu00e9 \\u00e9",
        "",
        "plain text with no escapes at all",
    ],
)
def test_text_without_the_value_is_left_alone(text: str) -> None:
    assert Scrubber([VALUE]).text(text) == text


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


@pytest.mark.parametrize("between", ["\0", "\ufffd", "\0\0", "\ufffd\0", "\0 "])
def test_a_value_with_nul_or_replacement_characters_between_is_scrubbed(between: str) -> None:
    """A body read in the wrong encoding puts NUL or U+FFFD between a value's characters."""
    text = "echo: " + between.join(VALUE) + between + " end"
    scrubbed = Scrubber([VALUE]).text(text)
    squeezed = scrubbed.replace("\0", "").replace("\ufffd", "").replace(" ", "")
    assert VALUE.replace(" ", "").lower() not in squeezed.lower()
    assert scrubbed.startswith("echo: ") and scrubbed.endswith(" end") and SCRUBBED in scrubbed


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
@pytest.mark.parametrize("prefix", [b"", b"x", b"xy", b"xyz"])
def test_a_value_in_bytes_is_scrubbed_at_any_alignment(encoding: str, prefix: bytes) -> None:
    value = "Sk-Live-😀-가-Ké"
    ascii_upper = value.upper().replace("É", "é")  # bytes fold ASCII letters only
    body = prefix + f"[{ascii_upper}|{value}]".encode(encoding)
    scrubbed = Scrubber([value]).bytes(body)
    for reading in ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"):
        assert value.encode(reading).strip(b"\0").lower() not in scrubbed.lower()
    if not prefix:  # aligned: what follows a replaced value still reads in its encoding
        assert scrubbed.decode(encoding) == f"[{SCRUBBED}|{SCRUBBED}]"
