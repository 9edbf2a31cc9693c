"""Which tool input schemas are safe to validate arguments against (issue 11, #3 #4)."""

from __future__ import annotations

from typing import Any

import pytest

from convoship.studio.input_schema import check_input_schema


def obj(**keywords: Any) -> dict[str, Any]:
    return {"type": "object", **keywords}


KEPT = {
    "plain": obj(properties={"q": {"type": "string"}}, required=["q"]),
    "tree": obj(properties={"kids": {"type": "array", "items": {"$ref": "#"}}}),
    "defs": obj(properties={"a": {"$ref": "#/$defs/s"}}, **{"$defs": {"s": {"type": "string"}}}),
    "escaped pointer": obj(
        properties={"a": {"$ref": "#/$defs/a~1b"}}, **{"$defs": {"a/b": {"type": "string"}}}
    ),
    "boolean schemas": obj(properties={"a": {"$ref": "#/properties/b"}, "b": False}),
    "a property named $ref": obj(properties={"$ref": {"type": "string"}}),
    "$ref as data": obj(properties={"a": {"enum": [{"$ref": "#"}]}}),
    "by $id, descending": obj(
        properties={
            "a": {"$id": "https://x.test/a", "type": "object", "properties": {"b": {"$ref": "#"}}}
        }
    ),
    "dynamic, descending": obj(properties={"a": {"$dynamicRef": "#m"}}, **{"$dynamicAnchor": "m"}),
}

REFUSED = {
    "self": (obj(**{"$ref": "#"}), "$ref cycle through '#'"),
    "self under $id": (
        obj(properties={"a": {"$id": "https://x.test/a", "$ref": "#"}}),
        "$ref cycle",
    ),
    "mutual": (
        obj(
            properties={"a": {"$ref": "#/$defs/x"}},
            **{"$defs": {"x": {"$ref": "#/$defs/y"}, "y": {"$ref": "#/$defs/x"}}},
        ),
        "$ref cycle through '#/$defs/",
    ),
    "not": (obj(properties={"a": {"not": {"$ref": "#/properties/a"}}}), "'#/properties/a'"),
    "if": (
        obj(
            properties={"a": {"$ref": "#/$defs/x"}},
            **{"$defs": {"x": {"if": {"$ref": "#/$defs/x"}}}},
        ),
        "$ref cycle",
    ),
    "dynamic": (obj(allOf=[{"$dynamicRef": "#m"}], **{"$dynamicAnchor": "m"}), "$ref cycle"),
    "remote": (
        obj(properties={"a": {"$ref": "https://169.254.169.254/latest/meta-data"}}),
        "only local references",
    ),
    "relative": (obj(properties={"a": {"$ref": "other.json"}}), "only local references"),
    "missing": (obj(properties={"a": {"$ref": "#/$defs/nope"}}), "does not resolve"),
    "bad escape": (obj(properties={"a": {"$ref": "#/$defs/%"}}), "does not resolve"),
    "not a schema": (obj(properties={"a": {"$ref": "#/required"}}, required=[]), "not point to a"),
    "not an object": ({"type": "string"}, "top level"),
    "invalid": (obj(properties={"a": {"type": "nope"}}), "not a valid JSON Schema"),
}


@pytest.mark.parametrize("schema", KEPT.values(), ids=KEPT.keys())
def test_kept(schema: dict[str, Any]) -> None:
    assert check_input_schema(schema) is schema


@pytest.mark.parametrize(("schema", "message"), REFUSED.values(), ids=REFUSED.keys())
def test_refused(schema: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as refused:
        check_input_schema(schema)
    assert message in str(refused.value)


@pytest.mark.parametrize("levels", [33, 1000])
def test_nesting_deeper_than_32_is_refused_before_anything_recurses(levels: int) -> None:
    schema: Any = {}
    for _ in range(levels):
        schema = [schema]
    with pytest.raises(ValueError, match="deeper than 32"):
        check_input_schema(obj(default=schema))


def doubling(levels: int) -> dict[str, Any]:
    """Each level applies the next one twice: 2**levels checks of one value."""
    defs: dict[str, Any] = {
        f"d{i}": {"allOf": [{"$ref": f"#/$defs/d{i + 1}"}, {"$ref": f"#/$defs/d{i + 1}"}]}
        for i in range(levels)
    }
    defs[f"d{levels}"] = {"type": "string"}
    return obj(properties={"q": {"$ref": "#/$defs/d0"}}, **{"$defs": defs})


def test_a_fan_out_that_would_take_too_long_is_refused() -> None:
    check_input_schema(doubling(7))  # 510 applications: fine
    with pytest.raises(ValueError, match="more than 1000 subschemas"):
        check_input_schema(doubling(16))  # 262142: seconds per tool call
