"""The compile cost of a user pattern (core/regex_size.py) bounds the CPU `regex.compile` spends
on it, counted without a clock: the Python calls it makes (a profiler hook counts them; the
work it does in C is bounded by the compiled nodes, tests/unit/test_user_regex.py). At about
0.1 us a call here, CALLS_PER_UNIT calls a unit and the 20,000 units allowed make ~10 ms.

`'a|' * 19000 + 'b'` was within the bound of nodes alone (19,004) and took ~110 ms to compile:
an alternative, a class or a group costs 50 to 150 calls where a node of the count cost one."""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from convoship.core.regex_size import CALLS_PER_UNIT, compile_cost, compiled_size
from convoship.core.user_regex import MAX_COMPILE_COST, PatternRefused, check_pattern


def compile_calls(pattern: str) -> int:
    """The Python and C function calls `regex.compile(pattern)` makes."""
    calls = 0

    def count(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal calls
        if event in ("call", "c_call"):
            calls += 1

    previous = sys.getprofile()
    sys.setprofile(count)
    try:
        regex.compile(pattern, cache_pattern=False)
    finally:
        sys.setprofile(previous)
    return calls


# Each construct repeated n times: the families measured in regex_size.py's table, and deep
# nesting of each kind of group (quadratic in `regex`'s optimiser).
FAMILIES: dict[str, Callable[[int], str]] = {
    "alternatives": lambda n: "a|" * n + "b",
    "numbers": lambda n: "|".join(str(i) for i in range(n)),
    "alternation groups": lambda n: "(?:a|b)" * n,
    "classes": lambda n: "[abcdefgh]" * n,
    "two-character classes": lambda n: "[ab]" * n,
    "ranges": lambda n: "[a-z]" * n,
    "negated characters": lambda n: "[^a]" * n,
    "capture groups": lambda n: "(a)" * n,
    "plain groups": lambda n: "(?:ab)" * n,
    "lookaheads": lambda n: "(?=a)" * n,
    "literal": lambda n: "x" * n,
    "escapes": lambda n: "\\u0041" * n,
    "properties": lambda n: "\\d" * n,
    "optional": lambda n: "a?" * n,
    "backreferences": lambda n: "(a)" + "\\1" * n,
    "verbose spaces": lambda n: "(?x)" + " " * n + "a",
    "nested alternations": lambda n: "(?:a|" * (n // 10) + "b" + ")" * (n // 10),
    "nested groups": lambda n: "(?:" * (n // 10) + "ab" + ")" * (n // 10),
    "nested optional groups": lambda n: "(?:" * (n // 10) + "ab" + ")?" * (n // 10),
    "nested atomic groups": lambda n: "(?>" * (n // 10) + "ab" + ")" * (n // 10),
    "nested lookbehinds": lambda n: "(?<=" * (n // 10) + "b" + ")" * (n // 10),
    "nested conditionals": lambda n: "(a)" + "(?(1)" * (n // 10) + "b" + ")" * (n // 10),
    "nested alternations in groups": lambda n: "(?:" * (n // 10) + "a|b|c" + ")" * (n // 10),
}


@pytest.mark.parametrize("n", [10, 300, 1200])
@pytest.mark.parametrize("family", FAMILIES)
def test_the_cost_bounds_the_calls_regex_makes_to_compile(family: str, n: int) -> None:
    pattern = FAMILIES[family](n)
    cost = compile_cost(pattern)
    assert compiled_size(pattern) <= cost
    if cost <= MAX_COMPILE_COST:
        assert compile_calls(pattern) <= CALLS_PER_UNIT * cost


@pytest.mark.parametrize("family", [name for name in FAMILIES if not name.startswith("nested")])
def test_each_family_meets_the_bound_within_a_few_thousand_repeats(family: str) -> None:
    """A cost that ignored a construct would let it repeat without limit (spaces, which make
    no node, cost half a unit each: 40,000 of them). Nesting stops sooner: 200 levels or so
    are more than `regex`'s parser can recurse through, and such a pattern does not compile."""
    assert compile_cost(FAMILIES[family](45_000 if family == "verbose spaces" else 6_000)) > (
        MAX_COMPILE_COST
    )


PIECES = [
    "(", ")", "(?:", "(?P<a>", "(?P=a)", "(?=", "(?!", "(?<=", "(?<!", "(?>", "[", "]", "[^",
    "a", "bc", "\\d", "\\w", "{", "}", "{2}", "{3,}", "{,3}", "{1,3}", "{7}", "*", "+", "?",
    "|", "^", "$", ".", "-", "(?i)", "\\1", "[[:alpha:]]", "(?(1)", "++", "*?", "\\b", "ß",
    "[a-z]", "[^0-9_]", "(?i:", "x|y|z", "a|", "\\u0041", " ", "(?x)", "(?#c)",
]  # fmt: skip


@pytest.mark.filterwarnings("ignore::FutureWarning")  # re: "Possible nested set" at `[[`
@settings(max_examples=500, derandomize=True, database=None, deadline=None)
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=60).map("".join))
def test_the_cost_bounds_the_calls_for_any_accepted_pattern(pattern: str) -> None:
    try:
        check_pattern(pattern)
    except PatternRefused:
        return
    assert compiled_size(pattern) <= compile_cost(pattern)
    assert compile_calls(pattern) <= CALLS_PER_UNIT * compile_cost(pattern)
