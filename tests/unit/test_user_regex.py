"""Patterns from users are refused before `regex` compiles them into too much: its compiling
has no timeout, and `(?:x{2000}){2000}` took 1 GB and seconds of CPU to compile (an eval
assertion, saved with a 201, then run by the publish gate 20 at a time).

Sizes are measured with `sys.getsizeof` of the compiled pattern (the C nodes it holds), and
compiling is counted by wrapping `regex`'s C compile, never timed."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import pytest
import regex
import regex._regex
from hypothesis import given, settings
from hypothesis import strategies as st

from convoship.core import user_regex
from convoship.core.regex_size import NODE_BYTES, compile_cost, compiled_size
from convoship.core.user_regex import (
    MAX_COMPILE_COST,
    PatternRefused,
    check_pattern,
    compile_pattern,
)
from convoship.publish.gate import judge

# What users write, and constructs of every kind the estimate walks through.
ORDINARY = [
    r"^echo:",
    r"\d{3}-\d{4}",
    r"(?i)^(hello|hi|hey)\b",
    r"[A-Z]{2}\d{6}",
    r"\b[0-9a-f]{64}\b",
    r"^[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}$",
    r"(?:\w+\s+){20}\w+",
    r"(?P<word>\w+) (?P=word)",
    r"(?<=\$)\d+(?:\.\d{2})?",
    r"(?!x)(?=y)(?>z+)a*?b++c{2,5}?",
    r"(a)?(?(1)b|c)",
    r"[^a-z\d\s]{10}",
    "|".join(f"word{i}" for i in range(100)),
    "x" * 1_000,
]
CONSTRUCTS = [
    *ORDINARY,
    "(?:abcdefgh){1000}",
    "(?:[a-z0-9_.]){1000}",
    "(?:x|yy|zzz){1000}",
    "(?:(a)(b)(c)){1000}",
    "(?:(?=a)){1000}",
    r"(?:\b){1000}",
    "(?:a++b){300}",
    "(?:(?<=ab)c){300}",
    "(?:x{2000}){1,2000}",
    "(?:(?:x{10}){10}){10}",
    "(?:x{100}a|x{100}b|x{100}c){10}",
    "(?fi)(?:ß){1000}",
    "(?fi)(?:[a-zßﬃ]){1000}",
    r"(?i)[\u0000-\uffff]{300}",
    "(?m)(?:^|$){300}",
    "(?:[[:alpha:]]){300}",
    "(?:ab){e<=2}",
    "(?:(){3}(?:)){100}",  # empty groups are nodes too
    "(a(?1)?b){10}",
    "(?R)?a{100}",
]
EMPTY = sys.getsizeof(regex.compile(""))


def compiled_bytes(pattern: str) -> int:
    return sys.getsizeof(regex.compile(pattern, cache_pattern=False)) - EMPTY


SLACK = 512  # bytes of a compiled pattern beyond its nodes (a tiny pattern's fixed part)


@pytest.mark.parametrize("pattern", CONSTRUCTS, ids=lambda p: p[:40])
def test_the_estimate_is_an_upper_bound_of_the_compiled_size(pattern: str) -> None:
    assert compiled_bytes(pattern) <= NODE_BYTES * compiled_size(pattern) + SLACK


PIECES = [
    "(", ")", "(?:", "(?P<a>", "(?P=a)", "(?=", "(?!", "(?<=", "(?<!", "(?>", "[", "]", "[^",
    "a", "bc", "\\d", "\\w", "{", "}", "{2}", "{3,}", "{,3}", "{1,3}", "{7}", "{12}", "*", "+",
    "?", "|", "^", "$", ".", "-", "(?i)", "\\1", "{e<=1}", "[[:alpha:]]", "(?(1)", "++", "*?",
    "\\b", "ß", "[a-z]", "[^0-9_]", "(?i:", "x|y|z",
]  # fmt: skip


@pytest.mark.filterwarnings("ignore::FutureWarning")  # re: "Possible nested set" at `[[`
@settings(max_examples=600, derandomize=True, database=None, deadline=None)
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=14).map("".join))
def test_the_estimate_bounds_the_compiled_size_of_any_accepted_pattern(pattern: str) -> None:
    try:
        check_pattern(pattern)
    except PatternRefused:
        return
    assert compiled_bytes(pattern) <= NODE_BYTES * compiled_size(pattern) + SLACK


@pytest.mark.parametrize("pattern", ORDINARY, ids=lambda p: p[:40])
def test_what_users_write_is_well_within_the_bound(pattern: str) -> None:
    assert compiled_size(pattern) <= compile_cost(pattern) <= MAX_COMPILE_COST // 2
    check_pattern(pattern)


@pytest.mark.parametrize("count", [50, 100, 141, 200])
def test_nested_counts_multiply_and_the_estimate_follows_them(count: int) -> None:
    """The compiled size grows as the product of the counts, and so does the estimate: it is
    not a loose bound but what the compiler builds (about 108 bytes a node)."""
    pattern = f"(?:x{{{count}}}){{{count}}}"
    assert count * count <= compiled_size(pattern) <= 1.1 * (count + 1) ** 2 + 10
    assert (
        100 * compiled_size(pattern)
        <= compiled_bytes(pattern)
        <= NODE_BYTES * compiled_size(pattern)
    )


def test_alternatives_that_share_a_prefix_are_each_counted() -> None:
    """`re`'s parser would move `x{100}` out of the alternation and count it once; `regex`
    builds it in every alternative."""
    one = compiled_size("(?:x{100}a){100}")
    four = compiled_size("(?:x{100}a|x{100}b|x{100}c|x{100}d){100}")
    assert four >= 4 * one - 1000
    assert compiled_bytes("(?:x{100}a|x{100}b|x{100}c|x{100}d){100}") >= 3.5 * compiled_bytes(
        "(?:x{100}a){100}"
    )


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The patterns `regex` compiles from here on (its C compile, after the Python parse)."""
    seen: list[str] = []
    real: Callable[..., Any] = regex._regex.compile

    def counted(pattern: str, *args: Any) -> Any:
        seen.append(pattern)
        return real(pattern, *args)

    monkeypatch.setattr(regex._regex, "compile", counted)
    user_regex._CACHE.clear()
    return seen


ATTACKS = [
    "(?:x{2000}){2000}",
    "(?:x{3000}){3000}",
    "(?:x{65535}){65535}",
    "(?:(?:x{100}){100}){100}",
    "(?:" + "|".join(f"x{{1000}}{c}" for c in "abcdefghijklmnopqrstuvwxyz") + "){1000}",
    "x{20000}y",
    "(?:[a-z0-9]{100}){200}",
    # Under the bound of nodes alone, and 30-160 ms of Python work to compile (regex_size.py):
    "a|" * 19_000 + "b",
    "(?:a|b)" * 4_000,
    "[abcdefgh]" * 2_000,
    "[a-z]" * 5_000,
    "x" * 19_000,
    "|".join(str(i) for i in range(5_000)),
    "(?:a|" * 140 + "b" + ")" * 140,
    "(?x)" + " " * 45_000 + "a",
]


@pytest.mark.parametrize("pattern", ATTACKS, ids=lambda p: p[:40])
def test_a_pattern_that_would_compile_into_too_much_is_refused_without_compiling(
    pattern: str, compiles: list[str]
) -> None:
    with pytest.raises(PatternRefused, match="too large"):
        check_pattern(pattern)
    with pytest.raises(PatternRefused, match="too large"):
        compile_pattern(pattern)
    assert compiles == []


def test_the_gate_fails_a_stored_pattern_over_the_bound_without_compiling_it(
    compiles: list[str],
) -> None:
    passed, reason = judge(object(), "regex", "(?:x{2000}){2000}", "x" * 100)  # type: ignore[arg-type]
    assert not passed
    assert reason is not None and "too large" in reason
    assert compiles == []
    assert judge(object(), "regex", r"x{3}$", "xxxx")[0]  # type: ignore[arg-type]
    assert compiles == [r"x{3}$"]


@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.parametrize(
    "pattern",
    ["x{e<=1.5}", "[[:foo:]]", "(unclosed", "[z-a]", r"\p{L}", "(?1)(a)", "(?a)(?u)x"],
    ids=["fuzzy cost", "posix class", "unclosed", "range", "re: \\p", "call", "flags clash"],
)
def test_a_pattern_either_engine_refuses_is_refused(pattern: str) -> None:
    with pytest.raises(PatternRefused, match="does not compile"):
        check_pattern(pattern)


def test_compiled_patterns_are_kept_up_to_a_total_size(compiles: list[str]) -> None:
    near_the_bound = [f"(?:{c}{{137}}){{137}}" for c in "abcdefghijklmn"]  # ~19,700 each
    for pattern in near_the_bound:
        compile_pattern(pattern)
    assert len(compiles) == len(near_the_bound)
    compile_pattern(near_the_bound[-1])  # kept
    compile_pattern(near_the_bound[0])  # evicted: 14 of them are over the cache's total
    assert len(compiles) == len(near_the_bound) + 1
    assert user_regex._CACHE._total <= user_regex.CACHE_COST
