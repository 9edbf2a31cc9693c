"""Which text encoding an HTTP response body is in: its byte order mark, else the charset its
Content-Type declares, else the pattern of NUL bytes UTF-16 and UTF-32 leave in its first
four bytes (as RFC 4627 read JSON), else UTF-8.

What is read from a body must be read as the service meant it: a value spelled in UTF-16
looks like nothing at all to a search of the bytes decoded as UTF-8 (secrets/scrub.py).
"""

from __future__ import annotations

import codecs

UTF8 = "utf-8"
# Longest first: the UTF-32 LE mark begins with the UTF-16 LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def body_encoding(body: bytes, content_type: str | None) -> str:
    """A codec name `codecs.getincrementaldecoder` knows (the BOM's codecs consume it)."""
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return encoding
    declared = declared_charset(content_type)
    if declared is not None:
        return declared
    return _by_nul_pattern(body[:4]) or UTF8


def declared_charset(content_type: str | None) -> str | None:
    """The codec of the `charset` parameter, when it names a text encoding Python knows."""
    for parameter in (content_type or "").split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() != "charset":
            continue
        try:
            info = codecs.lookup(value.strip().strip('"').strip())
        except (LookupError, ValueError):
            return None
        # bytes-to-bytes and str-to-str codecs (base64, rot13) are not text encodings
        return info.name if getattr(info, "_is_text_encoding", True) else None
    return None


def _by_nul_pattern(head: bytes) -> str | None:
    if len(head) < 2:
        return None
    nul = [byte == 0 for byte in head]
    if len(head) == 4 and nul == [True, True, True, False]:
        return "utf-32-be"
    if len(head) == 4 and nul == [False, True, True, True]:
        return "utf-32-le"
    if nul[:2] == [True, False]:
        return "utf-16-be"
    if nul[:2] == [False, True]:
        return "utf-16-le"
    return None
