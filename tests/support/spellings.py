"""Every spelling of a secret value a service may echo, for the scrubbing tests."""

from __future__ import annotations

import base64
import html
import json
import re
import unicodedata
from collections.abc import Callable
from urllib.parse import quote, quote_plus

# '/' '+' ' ' '"' '<' '&' and 'é' change under some encoding, mixed case under lower();
# '~~~??' puts '+' and '/' into its base64 (and '-' and '_' into its base64url).
VALUE = 'Sk-Live/Se cret+Ké"y_42-~~~??<&>'
# ASCII as its full-width forms (U+FF01-FF5E), the space as the ideographic space
FULL_WIDTH = {code: code + 0xFEE0 for code in range(0x21, 0x7F)} | {0x20: 0x3000}


def _lower_hex(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), text)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()


def _json(value: str) -> str:
    return json.dumps(value)[1:-1]


def _pairs(value: str) -> list[str]:
    return [f"{byte:02x}" for byte in value.encode()]


def _every(value: str, size: int, between: str) -> str:
    """value with `between` after every `size` characters."""
    return between.join(value[i : i + size] for i in range(0, len(value), size))


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
    # issue "hard" finding 2: reflections that were missed
    "html": html.escape,  # &quot; &lt; &amp; &gt;
    "html-twice": lambda v: html.escape(html.escape(v)),  # &amp;quot;
    "html-decimal": lambda v: "".join(f"&#{ord(c)};" for c in v),
    "html-hex": lambda v: "".join(f"&#x{ord(c):X};" for c in v),
    "split-by-crlf": lambda v: _every(v, 9, "\r\n"),
    "split-by-newlines": lambda v: _every(v, 8, "\n"),
    "header-folding": lambda v: _every(v, 9, "\r\n\t"),  # obs-fold
    "base64-wrapped-at-76": lambda v: base64.encodebytes(b"x" * 54 + v.encode()).decode(),
    "percent-twice": lambda v: quote(quote(v, safe=""), safe=""),
    "percent-plus-twice": lambda v: quote_plus(quote_plus(v)),
    "percent-of-json": lambda v: quote(_json(v), safe=""),
    "json-percent-json": lambda v: _json(quote(_json(v))).replace("/", "\\/"),
    "hex-colons": lambda v: ":".join(_pairs(v)),
    "hex-spaced-upper": lambda v: " ".join(_pairs(v)).upper(),
    "hex-escapes": lambda v: "".join(f"\\x{pair}" for pair in _pairs(v)),
    "zero-width-spaces": lambda v: "\u200b".join(v),
    "soft-hyphens": lambda v: _every(v, 4, "\u00ad"),
    "zero-width-joiners-and-bom": lambda v: _every(v, 3, "\u200d\ufeff"),
    "full-width": lambda v: v.translate(FULL_WIDTH),
    "decomposed-accents": lambda v: unicodedata.normalize("NFD", v),
}


def spelled(name: str, value: str = VALUE) -> str:
    return SPELLINGS[name](value)


def leaks(text: str, value: str = VALUE) -> list[str]:
    """The spellings of value that text still holds (compared case-insensitively)."""
    lowered = text.lower()
    return [name for name, spell in SPELLINGS.items() if spell(value).lower() in lowered]
