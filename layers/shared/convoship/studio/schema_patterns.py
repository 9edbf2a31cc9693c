"""The regular expressions of a tool's input schema, checked at save.

Each `pattern` and each `patternProperties` name must compile under `re` and `regex` within
the bound of core/user_regex.py, and so must an object's `patternProperties` names joined by
`|` when it also has `additionalProperties`: that is how jsonschema matches the names left
over. At call time they are matched on `regex` with a timeout (runtime/tool_arg_patterns.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from convoship.core.user_regex import PatternRefused, check_pattern, shown


def check_schema_patterns(schema: dict[str, Any]) -> None:
    """ValueError (a message for the caller) naming the first pattern that cannot be used."""
    for where, pattern in _patterns(schema):
        try:
            check_pattern(pattern)
        except PatternRefused as exc:
            raise ValueError(f"{where} {shown(pattern)}: {exc}") from None


def _patterns(root: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(what it is, the pattern) of every subschema reachable from root, nested or in $defs."""
    from referencing.jsonschema import DRAFT202012

    todo: list[Any] = [root]
    while todo:
        schema = todo.pop()
        if not isinstance(schema, dict):
            continue
        if isinstance(schema.get("pattern"), str):
            yield "pattern", schema["pattern"]
        names = schema.get("patternProperties")
        if isinstance(names, dict) and names:
            yield from (("patternProperties name", name) for name in names)
            if "additionalProperties" in schema and len(names) > 1:
                yield "patternProperties names joined by |", "|".join(names)
        todo += DRAFT202012.subresources_of(schema)
