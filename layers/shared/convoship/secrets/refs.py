"""`{{secret:NAME}}` references in tool url, headers and body."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

SECRET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
SECRET_REF = re.compile(r"\{\{\s*secret:([A-Za-z_][A-Za-z0-9_]{0,63})\s*\}\}")


def strings_in(value: Any) -> Iterable[str]:
    """Every string in a JSON value, dictionary keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings_in(key)
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def referenced_secrets(value: Any) -> list[str]:
    """Sorted, distinct secret names referenced anywhere in value (strings, dicts, lists)."""
    return sorted({m.group(1) for s in strings_in(value) for m in SECRET_REF.finditer(s)})


def reference_name(value: str | None) -> str | None:
    """NAME when value is exactly one `{{secret:NAME}}` reference, else None."""
    match = None if value is None else SECRET_REF.fullmatch(value)
    return match.group(1) if match else None
