"""The patterns of a tool's input schema, matched at call time on the `regex` package, within
the time the check of one call's arguments may spend matching.

jsonschema matches `pattern` and `patternProperties` (and, through the latter,
`additionalProperties` and `unevaluatedProperties`) with `re.search`, which cannot be stopped:
`^(a+)+$` against 27 characters of a visitor's message took 9.7 s holding the GIL, the whole
container with it. The library has no setting for its regex engine, so the `re` it calls in
the two modules that match (`jsonschema._keywords`, `jsonschema._utils`) is pointed at
`_RoutedRe`: inside a metered check (runtime/tool_args.py) each search is charged a step,
compiles through core/user_regex.py (bounded, cached) and runs with what is left of
MATCHING_SECONDS as its timeout; anywhere else it is `re.search`. `regex` measures its timeout
in the process's CPU time (C `clock()`); each search is charged the wall time it took,
compiling included. It releases the GIL while it matches a str.

Cost: a search on `regex` with a timeout is ~2.5 us against ~0.6 us on `re` (the timeout's
argument parsing and clock reads are most of it); a check without patterns costs the same.

Semantics stay those of Python's `re` for what both engines accept (core/user_regex.py), not
ECMA-262's: `\\d` and `\\w` match beyond ASCII, `$` also before a final newline.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from convoship.core.user_regex import PatternRefused, compile_pattern

MATCHING_SECONDS = 0.1  # an ordinary call matches in microseconds

_clock = time.perf_counter


class PatternTooSlow(Exception):
    """The matching time of the check is spent (never a ValueError, as in tool_args)."""

    def __init__(self, pattern: str) -> None:
        super().__init__(pattern)
        self.pattern = pattern


class PatternUnusable(Exception):
    """A stored pattern that does not compile within bounds (saved before that was checked)."""

    def __init__(self, pattern: str, reason: str) -> None:
        super().__init__(pattern, reason)
        self.pattern, self.reason = pattern, reason


class Matching:
    """The matching allowance of one check, each search charged a step through `charge`;
    `with Matching(charge):` routes the searches of the current context to it."""

    def __init__(self, charge: Callable[[int], None]) -> None:
        self._charge = charge
        self.seconds_left = MATCHING_SECONDS
        self._token: Any = None

    def __enter__(self) -> Matching:
        _route_jsonschema_searches()
        self._token = _matching.set(self)
        return self

    def __exit__(self, *_: object) -> None:
        _matching.reset(self._token)

    def search(self, pattern: str, text: str) -> Any:
        """The match (or None) of pattern in text, as `re.search` gives it."""
        self._charge(1)
        if self.seconds_left <= 0:
            raise PatternTooSlow(pattern)
        started = _clock()
        try:
            compiled = compile_pattern(pattern)
            return compiled.search(text, timeout=self.seconds_left)
        except PatternRefused as exc:
            raise PatternUnusable(pattern, str(exc)) from None
        except TimeoutError:
            self.seconds_left = 0
            raise PatternTooSlow(pattern) from None
        finally:
            self.seconds_left -= _clock() - started


_matching: ContextVar[Matching | None] = ContextVar("tool_arg_matching", default=None)


class _RoutedRe:
    """Stands in for `re` in jsonschema's matching modules: only `search` is routed."""

    def search(self, pattern: Any, string: Any, flags: int = 0) -> Any:
        matching = _matching.get()
        if matching is None or flags:
            return re.search(pattern, string, flags)
        return matching.search(pattern, string)

    def __getattr__(self, name: str) -> Any:
        return getattr(re, name)


_ROUTED = _RoutedRe()


_MATCHING_MODULES: list[Any] = []


def _route_jsonschema_searches() -> None:
    """Point `re` of jsonschema's matching modules at _ROUTED (checked on every use: cheap,
    and whatever replaced it since is undone)."""
    if not _MATCHING_MODULES:
        import jsonschema._keywords
        import jsonschema._utils

        _MATCHING_MODULES.extend((jsonschema._keywords, jsonschema._utils))
    for module in _MATCHING_MODULES:
        if module.re is not _ROUTED:
            module.re = _ROUTED
