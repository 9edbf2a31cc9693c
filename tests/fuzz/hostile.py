"""Hostile values for the fuzz test: strings, numbers and shapes that have broken parsers,
encoders, databases and HTTP libraries, raw bodies no JSON encoder writes, odd content
types, path segments and header values."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

# Every code point, lone surrogates (Cs) included: JSON can spell them ("\ud800").
ANY_TEXT = st.text(st.characters(exclude_categories=[]), max_size=24)

HOSTILE_STRINGS = [
    "\ud800",
    "a\udfffb",
    "\x00",
    "nul\x00inside",
    "",
    " ",
    "\u202e\u0301",  # right-to-left override, a lone combining mark
    "İ\u0130ß",  # case mappings that change length
    "x" * 20_000,
    "{{secret:NOPE}}",
    "{{secret:API_KEY}}",
    "{{ q }}",
    "{{",
    "'; DROP TABLE ai_agents; --",
    "../../etc/passwd",
    "human",  # the ESCALATE keyword
    'call:lookup {"q": "\\ud800"}',  # the model calls a tool with a lone surrogate
    'call:lookup {"q": "a\\u0000b"}',
    'call:lookup {"q": ' + "[" * 300 + "]" * 300 + "}",
    "call:lookup [1]",
    "call:nope {}",
    "PASS",
    "0",
    "-1",
    "null",
    "NaN",
    "1e400",
    "00000000-0000-0000-0000-000000000000",
    "https://169.254.169.254/latest/meta-data",
    "http://127.0.0.1:9/",
    "https://a..b/x",  # a host name no resolver takes
    "http://127.0.0.1:9/caf\u00e9/{{q}}",
    'call:lookup {"q": "caf\\u00e9 \\ud83d\\ude00"}',  # into a latin-1 header
    "(a+)+$",
    "[",
    "\\",
    "(?P<x>",
    "%s%n%x",
]

HOSTILE_NUMBERS: list[Any] = [
    0,
    -1,
    2**31,
    2**63,
    -(2**63) - 1,
    2**64,
    10**400,
    -(10**400),
    0.5,
    -0.0,
    5e-324,
    1.7976931348623157e308,
    float("nan"),
    float("inf"),
    float("-inf"),
]


def nested(levels: int, leaf: Any = 0) -> Any:
    value = leaf
    for index in range(levels):
        value = [value] if index % 2 else {"n": value}
    return value


def nested_schema(levels: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"p": schema}}
    return schema


HOSTILE_VALUES: list[Any] = [
    *HOSTILE_STRINGS,
    *HOSTILE_NUMBERS,
    None,
    True,
    False,
    [],
    {},
    list(range(2000)),
    {f"k{i}": i for i in range(300)},
    nested(40),
    nested(300),
    {"\ud800": 1},
    {"": None},
    nested_schema(100),
    {"type": "object", "$ref": "#"},
    {"type": "object", "properties": {"q": {"$ref": "#/$defs/nope"}}},
    {"type": "object", "properties": {"q": {"$ref": "https://169.254.169.254/"}}},
]

HOSTILE_LEAF = st.one_of(st.sampled_from(HOSTILE_VALUES), ANY_TEXT)

# Bodies no JSON encoder would write.
RAW_BODIES = [
    b"",
    b"{",
    b"null",
    b"[]",
    b'"text"',
    b"\x00",
    b"[" * 100_000,
    b'{"a":' * 50_000,
    b'{"name": "\xff\xfe"}',  # not UTF-8
    b'\xef\xbb\xbf{"name": "bom"}',
    b'{"name": "a", "name": "b"}',
    b'{"eval_pass_threshold": NaN, "rpm_cap_per_agent": Infinity}',
    b'{"message": 1' + b"0" * 5000 + b"}",  # more digits than Python's int() allows
    b'{"message": "\\ud800\\udc00\\udc00"}',
    b'{"data": {"k": "\\uDFFF"}}',
    b'{"message": "\\u0000"}',
    '{"message": "caf\u00e9"}'.encode("latin-1"),
    '{"message": "\\ud800", "data": {"k": "\\udc00"}}'.encode("utf-16"),
    '{"message": "\\ud800", "data": {"k": "\\udc00"}}'.encode("utf-32-le"),
]

CONTENT_TYPES = [
    "application/json",
    "application/json",
    None,
    "text/plain",
    "application/json; charset=utf-16",
    "application/x-www-form-urlencoded",
    "application/merge-patch+json",
    "multipart/form-data; boundary=x",
]

PATH_VALUES = [
    "",
    ".",
    "..",
    "%2F",
    "a%2Fb",
    "%00",
    "%ED%A0%80",  # a surrogate, CESU-8 spelled
    "%FF",
    "%C0%AE",  # an overlong '.'
    "b%C3%B8t",
    "%F0%9F%92%A5",
    "%E2%80%AE",
    "Support-Bot",
    "support-bot%20",
    "x" * 300,
    "00000000-0000-0000-0000-000000000000",
    "6f1c3f1e-7d0e-4e55-9d55-0c2f1f4b9a0g",
    "6F1C3F1E7D0E4E559D550C2F1F4B9A01",
    "{6f1c3f1e-7d0e-4e55-9d55-0c2f1f4b9a01}",
    "9" * 30,
    "-1",
    "0",
    "1e3",
    "1.5",
    "%2e%2e",
]

# Latin-1 is what an HTTP server decodes header bytes as; CR, LF and NUL never arrive.
HEADER_TEXT = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=200,
)
REQUEST_IDS = st.one_of(
    HEADER_TEXT,
    st.sampled_from(["", "ok-id-1", "a" * 129, "id with spaces", "é", "<script>", "../x"]),
)


def percent(text: str) -> str:
    """text as a URL path segment or query value (surrogates spelled as CESU-8 bytes)."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")
