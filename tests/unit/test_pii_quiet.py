"""The quiet-text shortcut (runtime/pii/quiet.py) is exact: a text it lets skip detection gets
no finding, no decoding and no normalisation from the full path, for any entities and regions;
and redaction with the shortcut equals the full path on every example of the PII tests and
the labelled corpus, and on generated text (escapes, percent-encoding, every script's digits,
hint words, keys without digits)."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convoship.runtime.pii import ENTITIES, find_pii, redact_value
from convoship.runtime.pii.detect import _DETECTORS, Finding, Request, scan
from convoship.runtime.pii.normalize import normalize
from convoship.runtime.pii.quiet import is_quiet
from convoship.runtime.pii.spans import Work
from convoship.runtime.pii.urlcoded import url_decoded
from convoship.studio.guardrail_configs import DEFAULT_PHONE_REGIONS
from convoship_dev.pii_corpus import load_corpus

EXAMPLES = settings(max_examples=1500, derandomize=True, database=None, deadline=None)
EVERYTHING = Request.of(ENTITIES, None)
REGIONS = (DEFAULT_PHONE_REGIONS, ("GB",), ("JP", "BR", "IN", "CH"))

# Close to quiet text: ASCII words and punctuation, hint words and their near misses, keys and
# tokens without digits, and every kind of escape, digit and separator that makes text loud.
PIECES = [
    "Hi", "Do you ship to Canada", "?", "!", ".", ",", " ", "  ", "\n", "\t", "-", "_", "/", "'",
    '"', "(", ")", "#", "=", ";", "*", "[", "]", "{", "}", "|", "~", "$", "<", ">", "^", "`",
    "a", "Z", "pas", "passe", "PASS", "word", "pw", "pwd", "secre", "Secret", "ke", "KEY", "tok",
    "Token", "en", "bearer", "Bearer ", "BASIC ", "basi", "mot", "mo", "senh", "kennwort",
    "contrase", "wachtwoord", "is", "my", "abcdefghijklmno", "abcdefghijklmnop", "sk-", "sk_live_",
    "AKIA", "eyJ", "ghp_", "xoxb-", "SG.", "-----BEGIN RSA PRIVATE KEY-----", "dead", "beef",
    ":", "::", "://", "@", "＠", "%40", "%4", "%", "&#64;", "&commat;", "&", "\\u0040", "\\x40",
    "\\", "+", "?a=b", "0", "1", "4", "٣", "１", "५", "é", "ſ", "K", "İ", "\u200b", "\u2013",
    "\u3002", "\x00",
]  # fmt: skip
QUIET_ALPHABET = string.ascii_letters + " \t\n.,!?'\"()#=;*[]{}|~$<>^`/-_"


def pii_test_strings() -> set[str]:
    """Every string literal of the PII tests: each entity's examples and look-alikes."""
    found: set[str] = set()
    for path in Path(__file__).parent.glob("test_pii*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.add(node.value)
    return found


def with_shortcut(text: str) -> list[Finding]:
    return find_pii(text, ENTITIES)


def full_path(text: str) -> list[Finding]:
    return scan(text, 0, EVERYTHING)


def assert_nothing_to_find(text: str) -> None:
    """What the shortcut claims of a quiet text: every view is the text itself and no detector
    finds anything in it (so none masks anything for the next), whatever the regions."""
    assert url_decoded(text).starts is None and normalize(text).starts is None, text
    for regions in REGIONS:
        for name, finder in _DETECTORS:
            assert finder(Work(text), regions) == [], (name, text)


@EXAMPLES
@given(st.lists(st.sampled_from(PIECES), max_size=30).map("".join))
def test_the_shortcut_finds_what_the_full_path_finds(text: str) -> None:
    assert with_shortcut(text) == full_path(text)
    if is_quiet(text):
        assert_nothing_to_find(text)


@EXAMPLES
@given(st.text(alphabet=QUIET_ALPHABET, max_size=80))
def test_text_called_quiet_holds_nothing_to_find(text: str) -> None:
    if is_quiet(text):
        assert_nothing_to_find(text)
    assert with_shortcut(text) == full_path(text)


def test_every_example_of_the_pii_tests_is_found_as_before() -> None:
    examples = pii_test_strings()
    assert len(examples) > 500
    for text in examples:
        assert with_shortcut(text) == full_path(text), text
        if is_quiet(text):
            assert_nothing_to_find(text)


def test_every_corpus_sample_is_found_as_before() -> None:
    for sample in load_corpus():
        assert with_shortcut(sample.text) == full_path(sample.text), sample.text
        if sample.labels:
            assert not is_quiet(sample.text), sample.text


@pytest.mark.parametrize(
    "text",
    [
        "Bearer abcdefghijklmnopqrstuvwxyz",  # no digit, no symbol the gate needs
        "Bearer abcdefgh/ijklmnop~qrst",  # nor a run of 16 token characters
        "my Token = abc~def!",
        "senha: Abc-Def!",
        "kennwort = abc/def",
        "contrasena: Abc-Def!",
        "wachtwoord is Abc-Def!",
        "password: Abc-Def!Ghi",
        "my passwd hunter!x",
        "api_key = 'abcdefGHIJ'",
        "sk-abcdefghijklmnopqrstuvwxyz",
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
        "mail jane.doe@example.com",
        "jane.doe%40example.com",
        "jane.doe&#64;example.com",
        "jane.doe\\u0040example.com",
        "jane.doe＠example.com",
        "dead:beef::cafe:face:fade",
        "call ٤١٥٥٥٥٠١٣٢ now",
    ],
)
def test_text_holding_an_entity_is_never_quiet(text: str) -> None:
    assert full_path(text)
    assert not is_quiet(text)
    assert with_shortcut(text) == full_path(text)


@pytest.mark.parametrize(
    "text",
    [
        "Hi! Do you ship to Canada?",
        "echo: Hi! Do you ship to Canada?",
        "Thanks, that's great.",
        "Note: we are open on weekdays.",
    ],
)
def test_plain_chat_messages_are_quiet(text: str) -> None:
    assert is_quiet(text)
    assert_nothing_to_find(text)


def test_a_value_quiet_alone_is_read_with_its_key() -> None:
    """The key (find's context) is judged with the value: `abcdefABCDEF` alone is quiet, after
    `"secret": ` it is a credential."""
    assert is_quiet("abcdefABCDEF") and is_quiet("hunterhunter")
    assert redact_value({"secret": "abcdefABCDEF", "pass": "hunterhunter"}, ENTITIES) == (
        {"secret": "[CREDENTIAL]", "pass": "[CREDENTIAL]"},
        2,
    )
