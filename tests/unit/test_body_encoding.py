"""A response body's text encoding: BOM, then declared charset, then NUL pattern, else UTF-8."""

from __future__ import annotations

import codecs

import pytest

from convoship.security.body_encoding import body_encoding

TEXT = '{"a": "é"}'


@pytest.mark.parametrize(
    ("body", "content_type", "encoding"),
    [
        (TEXT.encode(), "application/json", "utf-8"),
        (TEXT.encode(), None, "utf-8"),
        (codecs.BOM_UTF8 + TEXT.encode(), "text/plain; charset=utf-16", "utf-8-sig"),
        (TEXT.encode("utf-16"), "application/json; charset=utf-8", "utf-16"),
        (codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), None, "utf-16"),
        (TEXT.encode("utf-32"), None, "utf-32"),
        (codecs.BOM_UTF32_BE + TEXT.encode("utf-32-be"), None, "utf-32"),
        (TEXT.encode("utf-16-le"), None, "utf-16-le"),
        (TEXT.encode("utf-16-be"), None, "utf-16-be"),
        (TEXT.encode("utf-32-le"), None, "utf-32-le"),
        (TEXT.encode("utf-32-be"), None, "utf-32-be"),
        (TEXT.encode("utf-16-le"), 'text/plain; Charset="UTF-16LE"', "utf-16-le"),
        (TEXT.encode("latin-1"), "text/plain; charset=iso-8859-1", "latin-1"),
        (TEXT.encode(), "text/plain; charset=base64", "utf-8"),  # not a text encoding
        (TEXT.encode(), "text/plain; charset=rot13", "utf-8"),
        (TEXT.encode(), "text/plain; charset=no-such-thing", "utf-8"),
        (TEXT.encode(), "text/plain; charset=\0", "utf-8"),
        (b"x", None, "utf-8"),
        (b"", None, "utf-8"),
    ],
)
def test_the_encoding_of_a_body(body: bytes, content_type: str | None, encoding: str) -> None:
    found = body_encoding(body, content_type)
    assert codecs.lookup(found).name == codecs.lookup(encoding).name
    assert body.decode(found) == TEXT or encoding == "utf-8"
