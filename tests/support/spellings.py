"""Every spelling of a secret value a service may echo, for the scrubbing tests."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from urllib.parse import quote, quote_plus

# '/' '+' ' ' '"' and 'é' change under some encoding, mixed case under lower(); '~~~??' puts
# '+' and '/' into its base64 (and '-' and '_' into its base64url).
VALUE = 'Sk-Live/Se cret+Ké"y_42-~~~??'


def _lower_hex(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), text)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()


def _json(value: str) -> str:
    return json.dumps(value)[1:-1]


SPELLINGS: dict[str, Callable[[str], str]] = {
    "raw": lambda v: v,
    "json": _json,  # \" and \u00e9
    "json-slash": lambda v: _json(v).replace("/", "\\/"),  # PHP's json_encode
    "json-upper-u": lambda v: re.sub(r"\\u([0-9a-f]{4})", lambda m: "\\u" + m[1].upper(), _json(v)),
    "json-unicode": lambda v: json.dumps(v, ensure_ascii=False)[1:-1],
    "json-every-char": lambda v: "".join(f"\\u{ord(c):04X}" for c in v),
    "quote": lambda v: quote(v, safe=""),
    "quote-lower-hex": lambda v: _lower_hex(quote(v, safe="")),
    "quote-keep-slash": lambda v: quote(v),
    "quote-plus": quote_plus,
    "quote-plus-lower-hex": lambda v: _lower_hex(quote_plus(v)),
    "json-of-quoted": lambda v: _json(quote(v, safe="+")).replace("/", "\\/"),
    "base64": lambda v: _b64(v.encode()),
    "base64-unpadded": lambda v: _b64(v.encode()).rstrip("="),
    "base64-in-basic-auth": lambda v: _b64(b"user:" + v.encode()),
    "base64-after-one-byte": lambda v: _b64(b"u" + v.encode()),
    "base64url": lambda v: _b64url(v.encode()),
    "base64url-unpadded": lambda v: _b64url(v.encode()).rstrip("="),
    "hex": lambda v: v.encode().hex(),
    "hex-upper": lambda v: v.encode().hex().upper(),
    "upper-case": str.upper,
    "lower-case": str.lower,  # as a URL's host comes back in an error text
    "swapped-case": str.swapcase,
}


def spelled(name: str, value: str = VALUE) -> str:
    return SPELLINGS[name](value)


def leaks(text: str, value: str = VALUE) -> list[str]:
    """The spellings of value that text still holds (compared case-insensitively)."""
    lowered = text.lower()
    return [name for name, spell in SPELLINGS.items() if spell(value).lower() in lowered]
