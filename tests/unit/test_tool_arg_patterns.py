"""A tool's `pattern` and `patternProperties` are matched on `regex` within the time one check
may spend matching: on Python's `re`, `^(a+)+$` against 27 characters of a visitor's message
took 9.7 s holding the GIL, and ~35 reached the Lambda timeout.

No clock is read here: `re.search` is made to refuse the test's patterns (so only `regex`
could have answered), the matching clock is replaced where time matters, and compiling is
counted by wrapping `regex`'s C compile."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import regex
import regex._regex

from convoship.core import user_regex
from convoship.runtime import tool_arg_patterns
from convoship.runtime.tool_args import MAX_VALIDATION_STEPS, args_problem
from convoship.studio.input_schema import check_input_schema

RUNAWAY = "^(a|aa)+$"  # backtracks on `regex` too: it must be stopped
SLOW_ON_RE = "^(a+)+$"  # what the review sent: `regex` answers it at once
TOO_SLOW = "took longer than 0.1 s and was stopped"


def obj(**keywords: Any) -> dict[str, Any]:
    return {"type": "object", **keywords}


@pytest.fixture(autouse=True)
def re_refuses_the_test_patterns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Python's `re` would backtrack for hours on these: it must never see them."""
    real = re.search

    def search(pattern: Any, string: Any, flags: int = 0) -> Any:
        if pattern in (RUNAWAY, SLOW_ON_RE) or RUNAWAY in str(pattern):
            raise RuntimeError(f"re.search({pattern!r}) on a visitor's text")
        return real(pattern, string, flags)

    monkeypatch.setattr(re, "search", search)


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real: Callable[..., Any] = regex._regex.compile

    def counted(pattern: str, *args: Any) -> Any:
        seen.append(pattern)
        return real(pattern, *args)

    monkeypatch.setattr(regex._regex, "compile", counted)
    user_regex._CACHE.clear()
    return seen


VISITOR = "a" * 60 + "!"
# Every way jsonschema matches a pattern; keyword order puts the route under test first.
ROUTES = [
    (obj(properties={"q": {"type": "string", "pattern": RUNAWAY}}), {"q": VISITOR}),
    (obj(patternProperties={RUNAWAY: {}}), {VISITOR: 1}),
    (obj(additionalProperties=False, patternProperties={RUNAWAY: {}, "^z": {}}), {VISITOR: 1}),
    (obj(unevaluatedProperties=False, patternProperties={RUNAWAY: {}}), {VISITOR: 1}),
    (obj(propertyNames={"pattern": RUNAWAY}), {VISITOR: 1}),
    (obj(properties={"l": {"type": "array", "items": {"pattern": RUNAWAY}}}), {"l": [VISITOR]}),
]


@pytest.mark.parametrize(
    ("schema", "args"),
    ROUTES,
    ids=["pattern", "patternProperties", "additional", "unevaluated", "names", "items"],
)
def test_a_pattern_that_backtracks_forever_is_stopped_as_a_tool_error(
    schema: dict[str, Any], args: Any
) -> None:
    check_input_schema(schema)  # it compiles, small: saved
    problem = args_problem(schema, args)
    assert problem is not None
    assert TOO_SLOW in problem, problem
    assert RUNAWAY in problem


def test_the_reviewed_pattern_is_checked_as_usual_without_re() -> None:
    schema = obj(properties={"q": {"type": "string", "pattern": SLOW_ON_RE}})
    problem = args_problem(schema, {"q": "a" * 27 + "!"})
    assert problem == f"invalid arguments (q): '{'a' * 27}!' does not match '{SLOW_ON_RE}'"
    assert args_problem(schema, {"q": "a" * 27}) is None


class Clock:
    """The matching clock: each reading 30 ms after the previous one."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 0.03
        return self.now


def test_the_matching_time_is_shared_by_every_search_of_a_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tool_arg_patterns, "_clock", Clock())
    timeouts: list[float] = []
    real_compile = tool_arg_patterns.compile_pattern

    class Recorded:
        def __init__(self, compiled: Any) -> None:
            self.compiled = compiled

        def search(self, text: str, timeout: float) -> Any:
            timeouts.append(round(timeout, 6))
            return self.compiled.search(text, timeout=timeout)

    monkeypatch.setattr(tool_arg_patterns, "compile_pattern", lambda p: Recorded(real_compile(p)))
    schema = obj(properties={"tags": {"type": "array", "items": {"pattern": "^t"}}})
    # Each search "takes" 30 ms: the fourth gets what is left, the fifth none
    problem = args_problem(schema, {"tags": [f"t{i}" for i in range(10)]})
    assert problem is not None and TOO_SLOW in problem
    assert timeouts == [0.1, 0.07, 0.04, 0.01]
    assert args_problem(schema, {"tags": ["t1", "t2", "t3"]}) is None  # a fresh allowance


def test_each_search_is_charged_a_step() -> None:
    """Three steps per item without the search (items, type, pattern), four with it."""
    schema = obj(properties={"l": {"type": "array", "items": {"type": "string", "pattern": "^"}}})
    fits = MAX_VALIDATION_STEPS // 4 - 10
    assert args_problem(schema, {"l": ["x"] * fits}) is None
    over = args_problem(schema, {"l": ["x"] * (MAX_VALIDATION_STEPS // 3 - 10)})
    assert over is not None and "too much work" in over


def test_a_stored_pattern_over_the_size_bound_is_a_tool_error_never_compiled(
    compiles: list[str],
) -> None:
    schema = obj(properties={"q": {"type": "string", "pattern": "(?:x{200}){200}"}})
    with pytest.raises(ValueError, match="too large"):
        check_input_schema(schema)
    problem = args_problem(schema, {"q": "x"})  # stored before the check
    assert problem is not None
    assert "cannot be used" in problem and "too large" in problem
    assert compiles == []


def test_an_ordinary_pattern_compiles_once(compiles: list[str]) -> None:
    schema = obj(properties={"zip": {"type": "string", "pattern": r"^\d{5}$"}})
    for _ in range(3):
        assert args_problem(schema, {"zip": "75001"}) is None
    assert "does not match" in (args_problem(schema, {"zip": "7500"}) or "")
    assert compiles == [r"^\d{5}$"]


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        (obj(properties={"q": {"pattern": "(?:x{2000}){2000}"}}), "pattern '(?:x{2000})"),
        (
            obj(
                properties={"q": {"$ref": "#/$defs/deep"}},
                **{"$defs": {"deep": {"pattern": "(?:x{150}){150}"}}},
            ),
            "too large",
        ),
        (obj(patternProperties={"(?:x{65535}){65535}": {}}), "patternProperties name"),
        (
            obj(patternProperties={"x{12000}": {}, "y{12000}": {}}, additionalProperties=False),
            "joined by |",
        ),
        (obj(properties={"q": {"pattern": "x{e<=1.5}"}}), "does not compile"),
        (obj(properties={"q": {"pattern": "(unclosed"}}), "not a 'regex'"),
    ],
    ids=["pattern", "in $defs", "patternProperties", "joined", "regex refuses", "re refuses"],
)
def test_patterns_that_cannot_be_used_are_refused_at_save(
    schema: dict[str, Any], message: str, compiles: list[str]
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        check_input_schema(schema)
    assert not any("{2000}" in p or "{65535}" in p or "{150}" in p for p in compiles)


@pytest.mark.parametrize(
    "schema",
    [
        obj(properties={"pattern": {"type": "string"}, "q": {"pattern": "(?:x{100}){100}"}}),
        obj(properties={"q": {"enum": [{"pattern": "(?:x{2000}){2000}"}]}}),
        obj(patternProperties={"x{12000}": {}, "y{12000}": {}}),
    ],
    ids=["a property named pattern", "an enum value", "names not joined"],
)
def test_what_is_not_a_pattern_or_fits_is_kept(schema: dict[str, Any]) -> None:
    assert check_input_schema(schema) is schema


def test_python_semantics_where_ecma_differs() -> None:
    """Documented (core/user_regex.py): Python's classes, not ECMA-262's ASCII ones."""
    schema = obj(properties={"n": {"type": "string", "pattern": r"^\d+$"}})
    assert args_problem(schema, {"n": "١٢٣"}) is None  # Arabic-Indic digits match \d
    schema = obj(properties={"n": {"type": "string", "pattern": r"^a$"}})
    assert args_problem(schema, {"n": "a\n"}) is None  # $ before a final newline
