"""How PII detection scans a text: each fast path finds exactly what its pattern finds scanned
over the whole text, no pattern can backtrack catastrophically, and hostile input costs regex
work in proportion to its length (counted, not timed)."""

from __future__ import annotations

import importlib
import pkgutil
import re
import sys
from collections.abc import Iterable, Iterator
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser  # type: ignore[attr-defined]
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import convoship.runtime.pii as pii_package
from convoship.runtime.pii import (
    ENTITIES,
    cards,
    credentials,
    emails,
    ibans,
    network,
    phones,
    redact_text,
    ssns,
)
from convoship.runtime.pii.spans import MASK, Work, mask, run_matches

EXAMPLES = settings(max_examples=400, derandomize=True, database=None, deadline=None)

NUMBER_PIECES = [
    "0", "1", "4", "9", "12", "123", "415", "4111", "2024", "89", "3704", " ", "  ", "    ", "-",
    ".", "/", "(", ")", "+", "(+", "_", "@", ":", "x", "é", "٣", "DE", "si", "GB", "on ", MASK,
    "ssn ", "tel: ", "version ", "\n",
]  # fmt: skip
EMAIL_PIECES = [
    "a", "jo", "jörg", "用户", "1", "_", ".", "%", "+", "'", "-", "@", "@@", " ", "example",
    ".com", ".de", ".x", "xn--p1ai", "co.uk", ",", "\x00", "é", "＠", "localhost",
]  # fmt: skip
LABEL_PIECES = [
    "password", "PassWord", "passwd", "passphrase", "pwd", "secret", "api_key", "API-KEY", "apikey",
    "access-key", "Private_Key", "passwort", "kennwort", "mot", "de", "passe", "contraseña",
    "CONTRASENA", "senha", "wachtwoord", "refresh_token", "Session-Token", "Access-Token", "token",
    "client_secret", "key", "pass", "bearer", "Basic", "Bearer", "is", " ", "  ", "\t", ":", "=",
    "x", "_", "-", "Abc123!", "0123456789abcdef", "aaaaaaaaaaaaaaaaaaaa", "İ", "ß",
]  # fmt: skip


def texts(pieces: list[str]) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(pieces), max_size=40).map("".join)


def spans(matches: Iterable[re.Match[str]]) -> list[tuple[int, int]]:
    return [m.span() for m in matches]


# --- fast paths: the same matches as a whole-text scan -----------------------------------------


@EXAMPLES
@given(texts(NUMBER_PIECES))
def test_number_patterns_are_matched_only_where_digit_runs_start(text: str) -> None:
    work = Work(text)
    for pattern in (cards._RUN_RE, ssns._SSN_RE, network._IPV4_RE):
        assert spans(run_matches(pattern, work)) == spans(pattern.finditer(text)), pattern
    assert spans(phones._runs(work)) == spans(phones._RUN_RE.finditer(text))
    assert spans(ibans._starts(work)) == spans(ibans._START_RE.finditer(text))


@EXAMPLES
@given(texts(NUMBER_PIECES), st.lists(st.tuples(st.integers(0, 80), st.integers(1, 9))))
def test_masking_keeps_the_digit_runs_of_the_masked_text(
    text: str, cuts: list[tuple[int, int]]
) -> None:
    found = sorted((start, min(start + length, len(text))) for start, length in cuts)
    found = [span for span in found if span[0] < len(text)]
    kept = [span for i, span in enumerate(found) if all(span[0] >= f[1] for f in found[:i])]
    expected = Work(mask(text, kept)).digits
    assert Work(text).masked(kept).digits == expected
    scanned = Work(text)
    assert scanned.digits == spans(re.finditer("[0-9]+", text))
    assert scanned.masked(kept).digits == expected  # from the runs found before masking


@EXAMPLES
@given(texts(EMAIL_PIECES))
def test_emails_are_matched_from_each_at_sign(text: str) -> None:
    assert emails.find_emails(text) == spans(emails._EMAIL_RE.finditer(text))


@EXAMPLES
@given(texts(LABEL_PIECES))
def test_credential_labels_and_schemes_are_matched_near_their_hints(text: str) -> None:
    lowered = text.lower()
    near = credentials.found_near
    labels = near(credentials._LABEL_RE, text, lowered, credentials.LABEL_HINTS, 8)
    assert spans(labels) == spans(credentials._LABEL_RE.finditer(text))
    schemes = near(credentials._AUTH_SCHEME_RE, text, lowered, credentials.AUTH_SCHEMES, 0)
    assert spans(schemes) == spans(credentials._AUTH_SCHEME_RE.finditer(text))


@pytest.mark.parametrize(
    "label",
    ["wachtwoord", "mot  de \t passe", "refresh_token", "Private-Key", "client_secret", "APIKEY"],
)
def test_every_label_is_found_without_another_hint_nearby(label: str) -> None:
    assert redact_text(f"{label}: Xy7-abcdef", ["CREDENTIAL"]) == (f"{label}: [CREDENTIAL]", 1)


def test_iban_lengths_are_the_registry_python_stdnum_ships() -> None:
    from stdnum import numdb

    registry = {}
    for _, country, _, props, _ in numdb.get("iban").prefixes:
        groups = re.findall(r"([1-9][0-9]*)!([nac])", props["bban"])
        registry[country] = 4 + sum(int(count) for count, _ in groups)
    assert registry == ibans.LENGTHS


# --- linear time -------------------------------------------------------------------------------

_REPEATS = (sre.MAX_REPEAT, sre.MIN_REPEAT)


def _nested_backtracking(items: Any, inside_unbounded: bool) -> Iterator[tuple[int, int]]:
    """Variable-length repeats that may backtrack inside an unbounded repeat that may too: the
    shape of catastrophic backtracking. Possessive repeats and atomic groups never backtrack."""
    for op, av in items:
        if op in _REPEATS:
            low, high, body = av
            if inside_unbounded and low != high:
                yield low, high
            yield from _nested_backtracking(body, inside_unbounded or high == sre.MAXREPEAT)
        elif op in (sre.POSSESSIVE_REPEAT, sre.ATOMIC_GROUP):
            yield from _nested_backtracking(av[2] if op == sre.POSSESSIVE_REPEAT else av, False)
        elif op == sre.SUBPATTERN:
            yield from _nested_backtracking(av[3], inside_unbounded)
        elif op == sre.BRANCH:
            for branch in av[1]:
                yield from _nested_backtracking(branch, inside_unbounded)
        elif op in (sre.ASSERT, sre.ASSERT_NOT):
            yield from _nested_backtracking(av[1], inside_unbounded)


def _patterns() -> dict[str, re.Pattern[str]]:
    found = {}
    for info in pkgutil.iter_modules(pii_package.__path__):
        module = importlib.import_module(f"{pii_package.__name__}.{info.name}")
        for name, value in vars(module).items():
            if isinstance(value, re.Pattern):
                found[f"{info.name}.{name}"] = value
    return found


def test_the_detectors_patterns_are_many() -> None:
    assert len(_patterns()) >= 25


@pytest.mark.parametrize("name", sorted(_patterns()))
def test_no_pattern_nests_repeats_that_backtrack(name: str) -> None:
    pattern = _patterns()[name]
    parsed = _parser.parse(pattern.pattern, pattern.flags)
    assert list(_nested_backtracking(parsed, False)) == []


def test_the_nesting_check_catches_the_classic_shapes() -> None:
    for bad in (r"(a+)+b", r"(?:\w{1,4}x?)*y", r"(a|aa)*+(?:b+)*c"):
        assert list(_nested_backtracking(_parser.parse(bad, 0), False)), bad
    for good in (r"(?:a++)+b", r"(?:[\w-]++\.)+x", r"(?:a{1,4}+b)*", r"(?:ab){2,7}"):
        assert not list(_nested_backtracking(_parser.parse(good, 0), False)), good


class _Metered:
    """A compiled pattern that adds up what each call may read: the whole window for a search,
    what a match consumed (plus one) for an anchored match."""

    def __init__(self, pattern: re.Pattern[str], meter: list[int]) -> None:
        self._pattern = pattern
        self._meter = meter

    def _window(self, text: str, pos: int, endpos: int) -> None:
        self._meter[0] += max(0, min(endpos, len(text)) - pos) + 1

    def match(self, text: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        found = self._pattern.match(text, pos, endpos)
        self._meter[0] += 1 + (found.end() - pos if found else 0)
        return found

    def fullmatch(self, text: str, pos: int = 0, endpos: int = sys.maxsize) -> Any:
        self._window(text, pos, endpos)
        return self._pattern.fullmatch(text, pos, endpos)

    def search(self, text: str, pos: int = 0, endpos: int = sys.maxsize) -> Any:
        self._window(text, pos, endpos)
        return self._pattern.search(text, pos, endpos)

    def finditer(self, text: str, pos: int = 0, endpos: int = sys.maxsize) -> Any:
        self._window(text, pos, endpos)
        return self._pattern.finditer(text, pos, endpos)

    def findall(self, text: str, pos: int = 0, endpos: int = sys.maxsize) -> Any:
        self._window(text, pos, endpos)
        return self._pattern.findall(text, pos, endpos)


HOSTILE = {  # a unit repeated; each shape once sent some detector into a long scan
    "digits and dashes": "1-",
    "digits and spaces": "1 ",
    "card groups": "4444 ",
    "opening parenthesis and plus": "(+1 ",
    "phone after a letter": "x(415) ",
    "IBAN starts": "aa11 aaaa ",
    "dotted digits": "1.",
    "at signs": "a@a.",
    "local parts": "a'a'a'@",
    "hex and colons": "1a:",
    "label hints": "token pass key ",
    "mot de": "mot   de  ",
    "bearer words": "Bearer Bearer ",
    "ssn shapes": "123-45-",
    "masked-looking": "1\x001 ",
    "percent escapes": "%41%C3%A9%2",
    "query pluses": "?a=1+2&",
    "dash-like separators": "1\u2013 ",
    "ideographic full stops": "1\u3002",
}


def _work_for(text: str, monkeypatch: pytest.MonkeyPatch) -> int:
    meter = [0]
    with monkeypatch.context() as patch:
        for name, pattern in _patterns().items():
            module, attribute = name.rsplit(".", 1)
            patch.setattr(f"{pii_package.__name__}.{module}.{attribute}", _Metered(pattern, meter))
        redact_text(text, ENTITIES)
    return meter[0]


@pytest.mark.parametrize("unit", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_input_costs_regex_work_in_proportion_to_its_length(
    unit: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    size = 20_000
    small = _work_for(unit * (size // len(unit)), monkeypatch)
    large = _work_for(unit * (4 * size // len(unit)), monkeypatch)
    assert small > 0
    assert large <= 4.5 * small, (small, large)  # quadratic work would be 16 times
