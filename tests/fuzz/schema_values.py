"""JSON values shaped by OpenAPI schemas, and hostile mutations of valid bodies.

The generator covers the JSON Schema FastAPI emits (type, properties, required,
additionalProperties, min/maxProperties, items, anyOf, enum, const, $ref, string/number
bounds, pattern, format uuid / date-time); a schema it does not know is any JSON value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from tests.fuzz.hostile import ANY_TEXT, HOSTILE_LEAF


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
        for name in properties:  # minProperties (a PATCH sets at least one field)
            if len(out) >= schema.get("minProperties", 0):
                break
            out.setdefault(name, self.value(draw, properties[name], hostile, depth + 1))
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) or (extra is None and not properties):
            room = max(0, min(3, schema.get("maxProperties", 3) - len(out)))
            keys = ANY_TEXT if hostile else st.text(max_size=8)
            for key in draw(st.lists(keys, max_size=room)):
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
