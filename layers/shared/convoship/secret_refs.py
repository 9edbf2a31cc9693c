"""`{{secret:NAME}}` references in tool url, headers and body."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

SECRET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
SECRET_REF = re.compile(r"\{\{\s*secret:([A-Za-z_][A-Za-z0-9_]{0,63})\s*\}\}")


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def referenced_secrets(value: Any) -> list[str]:
    """Sorted, distinct secret names referenced anywhere in value (strings, dicts, lists)."""
    return sorted({m.group(1) for s in _strings(value) for m in SECRET_REF.finditer(s)})
