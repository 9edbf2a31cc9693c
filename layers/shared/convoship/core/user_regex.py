"""Regular expressions written by users (eval assertions, a tool's `pattern` and
`patternProperties`), run on the `regex` package: its matching can stop at a timeout.

Its compiling cannot: a pattern whose compile cost would pass MAX_COMPILE_COST
(core/regex_size.py: the nodes it builds and the Python work of building them, in units of
~0.5 us) is refused at save and, if it was stored before, never compiled. At the bound a
pattern compiles into at most ~2.4 MB, with ~5.5 MB at the peak and at most ~10 ms of CPU in
`regex.compile` (the table in regex_size.py); the patterns people write cost a few hundred
units, a 100-word alternation about 6,000, a 250-word one 16,000, a 1,500-character literal
10,000.

A pattern must compile under both `re` (JSON Schema's `format: regex`, and what evals have
always required) and `regex` (version 0, which follows `re`): what is accepted is what the
two share. Where they still differ, `regex` decides at match time: `x{e<=1}` is a fuzzy match,
not the literal text `{e<=1}`, and `[[:alpha:]]` is a POSIX class.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from convoship.core.regex_size import compile_cost

MAX_COMPILE_COST = 20_000
CACHE_COST = 200_000  # compiled patterns kept in a warm process: ~24 MB at most


def shown(pattern: str) -> str:
    """pattern quoted for a message, cut to its first 80 characters."""
    return repr(pattern if len(pattern) <= 80 else pattern[:80] + "...")


class PatternRefused(ValueError):
    """The pattern does not compile, or would compile into too much: the message says which."""


def check_pattern(pattern: str) -> None:
    """PatternRefused unless pattern compiles, under `re` and `regex`, within the bound."""
    try:
        re.compile(pattern)
    except (re.error, ValueError, OverflowError, RecursionError) as exc:
        raise PatternRefused(f"regex does not compile: {exc}") from None
    compile_pattern(pattern)


def compile_pattern(pattern: str) -> Any:
    """pattern compiled by `regex`, if its compile cost is within MAX_COMPILE_COST;
    PatternRefused otherwise. Kept (oldest out first) up to CACHE_COST in all."""
    hit = _CACHE.get(pattern)
    if hit is not None:
        return hit
    import regex  # lazy: only user patterns need it

    try:
        size = compile_cost(pattern)
    except ValueError as exc:
        raise PatternRefused(f"regex does not compile: {exc}") from None
    if size > MAX_COMPILE_COST:
        raise PatternRefused(
            f"the regex is too large: compiling it would cost about {size:,} units,"
            f" over the {MAX_COMPILE_COST:,} allowed (a repeat count multiplies what it"
            " repeats, nested counts each other; every alternative, class and group adds)"
        )
    try:
        compiled = regex.compile(pattern, cache_pattern=False)
    except (regex.error, ValueError, OverflowError, RecursionError) as exc:
        raise PatternRefused(f"regex does not compile: {exc}") from None
    _CACHE.put(pattern, compiled, size)
    return compiled


class _SizedCache:
    """Compiled patterns by source, evicted oldest first past a total compiled size (a count
    of entries would let a few large patterns hold far more memory). Reads take no lock."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._entries: dict[str, tuple[Any, int]] = {}
        self._total = 0
        self._lock = threading.Lock()

    def get(self, pattern: str) -> Any:
        entry = self._entries.get(pattern)
        return None if entry is None else entry[0]

    def put(self, pattern: str, compiled: Any, size: int) -> None:
        with self._lock:
            if pattern in self._entries:
                return
            self._entries[pattern] = (compiled, size)
            self._total += size
            while self._total > self._capacity:
                oldest = next(iter(self._entries))
                self._total -= self._entries.pop(oldest)[1]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._total = 0


_CACHE = _SizedCache(CACHE_COST)
