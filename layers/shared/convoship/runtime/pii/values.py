"""Redacting JSON-like data (tool arguments and results): strings, dict keys and numbers."""

from __future__ import annotations

from typing import Any

from convoship.runtime.pii.detect import Request, find, replace


def redact_data(value: Any, request: Request, context: str = "") -> tuple[Any, int]:
    """A copy of `value` with every entity replaced, and how many were.

    Dict keys are redacted like strings (a key that then clashes with another gets a ` (2)`
    suffix), and each value is read with its key as context (`{"ssn": 123456789}`). An integer,
    or a float with no fraction, holding an entity becomes the placeholder string: a number is
    never left half redacted. Booleans and None stay.
    """
    if isinstance(value, str):
        findings = find(value, request, context)
        return (replace(value, findings) if findings else value), len(findings)
    if isinstance(value, bool) or value is None:
        return value, 0
    if isinstance(value, int | float):
        return _number(value, request, context)
    if isinstance(value, dict):
        return _mapping(value, request)
    if isinstance(value, list | tuple):
        items: list[Any] = []
        total = 0
        for item in value:
            new, count = redact_data(item, request)
            items.append(new)
            total += count
        return (tuple(items) if isinstance(value, tuple) else items), total
    return value, 0


def _number(value: int | float, request: Request, context: str) -> tuple[Any, int]:
    if isinstance(value, float):
        if not value.is_integer():
            return value, 0
        text = str(int(value))
    else:
        text = str(value)
    findings = find(text, request, context)
    return (replace(text, findings) if findings else value), len(findings)


def _mapping(value: dict[Any, Any], request: Request) -> tuple[dict[Any, Any], int]:
    out: dict[Any, Any] = {}
    total = 0
    for key, item in value.items():
        context = ""
        if isinstance(key, str):
            context = '"' + key.replace("_", " ").replace("-", " ") + '": '
            key, count = redact_data(key, request)
            total += count
            key = _unique(key, out)
        out[key], count = redact_data(item, request, context)
        total += count
    return out, total


def _unique(key: str, taken: dict[Any, Any]) -> str:
    if key not in taken:
        return key
    n = 2
    while f"{key} ({n})" in taken:
        n += 1
    return f"{key} ({n})"
