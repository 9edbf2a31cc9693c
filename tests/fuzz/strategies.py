"""Hypothesis strategies for requests to one OpenAPI operation: schema-shaped JSON with
hostile values mixed in, hostile raw bodies, path and query values, odd headers.

The generator covers the JSON Schema FastAPI emits (type, properties, required,
additionalProperties, items, anyOf, enum, const, $ref, string/number bounds, pattern,
format uuid / date-time); a schema it does not know is any JSON value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

# ---- hostile values ---------------------------------------------------------------------

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


# ---- schema-shaped values ---------------------------------------------------------------


@dataclass
class SchemaValues:
    """JSON values shaped by OpenAPI schemas; with hostile, leaves are sometimes hostile."""

    components: dict[str, Any]
    depth_budget: int = 6

    def resolve(self, schema: Any) -> Any:
        while isinstance(schema, dict) and "$ref" in schema:
            schema = self.components[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    def value(self, draw: st.DrawFn, schema: Any, hostile: bool, depth: int = 0) -> Any:
        schema = self.resolve(schema)
        if hostile and draw(st.integers(0, 5)) == 0:
            return draw(HOSTILE_LEAF)
        if not isinstance(schema, dict) or depth > self.depth_budget:
            return draw(any_json)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return draw(st.sampled_from(schema["enum"]))
        if "anyOf" in schema:
            return self.value(draw, draw(st.sampled_from(schema["anyOf"])), hostile, depth)
        kind = schema.get("type")
        if kind == "object" or "properties" in schema:
            return self._object(draw, schema, hostile, depth)
        if kind == "array":
            items = schema.get("items", {})
            low = schema.get("minItems", 0)
            size = draw(st.integers(low, max(low, min(schema.get("maxItems", 4), 4))))
            return [self.value(draw, items, hostile, depth + 1) for _ in range(size)]
        if kind == "string":
            return draw(string_for(schema))
        if kind == "integer":
            return draw(st.integers(schema.get("minimum"), schema.get("maximum")))
        if kind == "number":
            low, high = schema.get("minimum"), schema.get("maximum")
            return draw(st.floats(low, high, allow_nan=False, allow_infinity=False))
        if kind == "boolean":
            return draw(st.booleans())
        if kind == "null":
            return None
        return draw(any_json)

    def _object(self, draw: st.DrawFn, schema: dict[str, Any], hostile: bool, depth: int) -> Any:
        properties = schema.get("properties", {})
        required = set(schema.get("required", []))
        out: dict[str, Any] = {}
        for name, sub in properties.items():
            keep = name in required or draw(st.booleans())
            if hostile and draw(st.integers(0, 9)) == 0:
                keep = not keep  # drop a required field, or add an optional one
            if keep:
                out[name] = self.value(draw, sub, hostile, depth + 1)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) or (extra is None and not properties):
            for key in draw(st.lists(ANY_TEXT if hostile else st.text(max_size=8), max_size=3)):
                out[key] = self.value(draw, extra or {}, hostile, depth + 1)
        if hostile and draw(st.integers(0, 9)) == 0:
            out[draw(st.sampled_from(["unknown", "next_cursor", "\ud800", ""]))] = 1
        return out


def string_for(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    low, high = schema.get("minLength", 0), min(schema.get("maxLength", 40), 40)
    if schema.get("format") == "uuid":
        return st.uuids().map(str)
    if schema.get("format") == "date-time":
        return st.datetimes().map(lambda d: d.isoformat() + "Z")
    if "pattern" in schema:
        return st.from_regex(schema["pattern"], fullmatch=True).filter(
            lambda s: low <= len(s) <= max(high, low)
        )
    return st.text(min_size=low, max_size=max(high, low))


any_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


def _paths(value: Any) -> list[tuple[Any, ...]]:
    """Every position in value (the root included), as key/index paths."""
    out: list[tuple[Any, ...]] = []
    todo: list[tuple[Any, tuple[Any, ...]]] = [(value, ())]
    while todo:
        item, path = todo.pop()
        out.append(path)
        if isinstance(item, dict):
            todo += [(child, (*path, key)) for key, child in item.items()]
        elif isinstance(item, list):
            todo += [(child, (*path, index)) for index, child in enumerate(item)]
    return out


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replaced(value[head], rest, new)}
    copy = list(value)
    copy[head] = _replaced(copy[head], rest, new)
    return copy


def mutated(draw: st.DrawFn, value: Any) -> Any:
    """value with one to three positions replaced by hostile values (or given a new key)."""
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(sorted(_paths(value), key=len)))
        target = value
        for step in path:
            target = target[step]
        if isinstance(target, dict) and draw(st.booleans()):
            path = (*path, draw(st.sampled_from(["unknown", "\ud800", "", "config", "data"])))
            target_new = {**target, path[-1]: draw(HOSTILE_LEAF)}
            value = _replaced(value, path[:-1], target_new)
        else:
            value = _replaced(value, path, draw(HOSTILE_LEAF))
    return value


def dumps(value: Any) -> bytes:
    """value as a request body; what json cannot write (NaN, huge ints) as Python writes it."""
    try:
        return json.dumps(value).encode()
    except ValueError:  # an int past Python's digit limit
        return b"0"
