"""Which tool input schemas are safe to validate arguments against (issue 11, #3 #4)."""

from __future__ import annotations

from typing import Any

import pytest

from convoship.core.errors import ValidationFailed
from convoship.studio.input_schema import check_input_schema

DRAFT = "https://json-schema.org/draft/2020-12/schema"


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
    "arguments named like keywords": obj(
        properties={"$id": {"type": "string"}, "$schema": {"$ref": "#/$defs/$anchor"}},
        **{"$defs": {"$anchor": {"type": "string"}}},
    ),
    "Draft 2020-12 declared at the top": obj(**{"$schema": DRAFT}),
}

REFUSED = {
    "self": (obj(**{"$ref": "#"}), "$ref cycle through '#'"),
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


# Keywords that would let a schema shadow a metaschema, or resolve by URI into one whose
# `$schema` switches jsonschema to a validator class that counts no step (runtime/tool_args.py).
SHADOWING = {
    "$id shadowing the metaschema": (
        obj(**{"$id": DRAFT}, properties={"a": {"$ref": "#"}}),
        "$id",
        "/$id",
    ),
    "$id below": (
        obj(properties={"a": {"$id": "https://x.test/a", "type": "object"}}),
        "$id",
        "/properties/a/$id",
    ),
    "$anchor": (obj(**{"$defs": {"x": {"$anchor": "m"}}}), "$anchor", "/$defs/x/$anchor"),
    "$dynamicAnchor": (obj(**{"$dynamicAnchor": "m"}), "$dynamicAnchor", "/$dynamicAnchor"),
    "$dynamicRef": (
        obj(properties={"a": {"$dynamicRef": "#m"}}),
        "$dynamicRef",
        "/properties/a/$dynamicRef",
    ),
    "$recursiveRef": (
        obj(allOf=[{"$recursiveRef": "#"}]),
        "$recursiveRef",
        "/allOf/0/$recursiveRef",
    ),
    "$recursiveAnchor": (obj(**{"$recursiveAnchor": True}), "$recursiveAnchor", "/$recursiv"),
    "$vocabulary": (
        obj(**{"$vocabulary": {DRAFT: True}}),
        "$vocabulary",
        "/$vocabulary",
    ),
    "no JSON Schema draft at the top": (
        obj(**{"$schema": "http://json-schema.org/draft-05/schema#"}),
        "$schema",
        "/$schema",
    ),
    "Draft 2020-12 below the top": (
        obj(properties={"a": {"$schema": DRAFT}}),
        "$schema",
        "/properties/a/$schema",
    ),
    "a $ref to the metaschema": (
        obj(properties={"a": {"$ref": DRAFT}}),
        "only local references",
        "/properties/a/$ref",
    ),
    "a remote $ref": (
        obj(properties={"a": {"$ref": "https://169.254.169.254/latest/meta-data"}}),
        "only local references",
        "/properties/a/$ref",
    ),
    "a relative $ref": (
        obj(properties={"a": {"$ref": "other.json"}}),
        "only local references",
        "/properties/a/$ref",
    ),
    "an anchor $ref": (
        obj(properties={"a": {"$ref": "#m"}}),
        "only local references",
        "/properties/a/$ref",
    ),
    "in data a $ref may point to": (
        obj(
            properties={"a": {"$ref": "#/$defs/d/enum/0"}},
            **{"$defs": {"d": {"enum": [{"$id": DRAFT}]}}},
        ),
        "$id",
        "/$defs/d/enum/0/$id",
    ),
    "a $ref at a map of names, whose names would become keywords": (
        obj(properties={"$schema": {"type": "string"}, "a": {"$ref": "#/properties"}}),
        "points at a map of names",
        "/properties/a/$ref",
    ),
    "a $ref at a map of names, spelled with a percent escape": (
        obj(properties={"$id": {"type": "string"}}, **{"$ref": "#/prop%65rties"}),
        "points at a map of names",
        "/$ref",
    ),
    "a $ref at a map of names, through a negative index": (
        obj(
            allOf=[{"properties": {"$id": {}}}], properties={"a": {"$ref": "#/allOf/-1/properties"}}
        ),
        "points at a map of names",
        "/properties/a/$ref",
    ),
    "a $ref at a map of names, with an escaped separator": (
        obj(
            allOf=[{"properties": {"$id": {}}}],
            properties={"a": {"$ref": "#/allOf%2F0%2Fproperties"}},
        ),
        "points at a map of names",
        "/properties/a/$ref",
    ),
    "escaped in the pointer": (
        obj(properties={"a/b~c": {"$anchor": "m"}}),
        "$anchor",
        "/properties/a~1b~0c/$anchor",
    ),
}


@pytest.mark.parametrize(("schema", "keyword", "pointer"), SHADOWING.values(), ids=SHADOWING)
def test_keywords_that_could_leave_the_metered_validator_are_refused(
    schema: dict[str, Any], keyword: str, pointer: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        check_input_schema(schema)
    assert keyword in refused.value.detail
    assert f"(at {pointer}" in refused.value.detail or f"at {pointer}" in refused.value.detail
    assert refused.value.errors == [{"loc": ["body", "input_schema"], "msg": refused.value.detail}]


@pytest.mark.parametrize("levels", [33, 1000])
def test_nesting_deeper_than_32_is_refused_before_anything_recurses(levels: int) -> None:
    schema: Any = {}
    for _ in range(levels):
        schema = [schema]
    with pytest.raises(ValidationFailed, match="deeper than 32"):
        check_input_schema(obj(default=schema))


def test_a_huge_schema_is_refused_before_any_costly_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its size is read before the metaschema, the patterns or the references are."""
    import jsonschema

    from convoship.studio import input_schema

    def costly(*_: Any) -> None:
        raise AssertionError("a costly check ran on a schema refused by its size")

    monkeypatch.setattr(jsonschema.Draft202012Validator, "check_schema", costly)
    monkeypatch.setattr(input_schema, "check_schema_patterns", costly)
    monkeypatch.setattr(input_schema, "_in_place_graph", costly)
    patterns = {f"^p{i}(a|aa)+$": {"type": "string"} for i in range(5000)}
    with pytest.raises(ValidationFailed, match="bytes; the limit is 65536"):
        check_input_schema(obj(patternProperties=patterns))


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


def levels_of(kinds: int, levels: int) -> dict[str, Any]:
    """A chain of $defs where each level applies the next one `kinds` times to one child."""
    defs: dict[str, Any] = {
        f"l{i}": {
            "properties": {"a": {"$ref": f"#/$defs/l{i + 1}"}},
            "patternProperties": {
                f"^a{'?' * k}$": {"$ref": f"#/$defs/l{i + 1}"} for k in range(kinds - 1)
            },
        }
        for i in range(levels)
    }
    defs[f"l{levels}"] = {"type": "string"}
    return obj(**{"$ref": "#/$defs/l0", "$defs": defs})


MULTIPLYING = {
    "two patterns, recursive": obj(patternProperties={"a": {"$ref": "#"}, "^a": {"$ref": "#"}}),
    "properties and a pattern, recursive": obj(
        properties={"a": {"$ref": "#"}}, patternProperties={"^a$": {"$ref": "#"}}
    ),
    "items and contains, recursive": obj(
        properties={"l": {"$ref": "#/$defs/l"}},
        **{"$defs": {"l": {"items": {"$ref": "#/$defs/l"}, "contains": {"$ref": "#/$defs/l"}}}},
    ),
    "a chain of 12 levels applied twice": levels_of(2, 12),
    "a chain of 7 levels applied three times": levels_of(3, 7),
}


@pytest.mark.parametrize("schema", MULTIPLYING.values(), ids=MULTIPLYING.keys())
def test_a_schema_that_multiplies_the_checks_level_after_level_is_refused(
    schema: dict[str, Any],
) -> None:
    with pytest.raises(ValueError, match="more than 1000 subschemas to one value of the argu"):
        check_input_schema(schema)


GROWING_SLOWLY = {
    "a chain of 8 levels applied twice": levels_of(2, 8),  # 767 checks, each $ref one
    "a tree with a name pattern": obj(
        properties={"kids": {"type": "array", "items": {"$ref": "#"}}},
        patternProperties={"^x-": {"type": "string"}},
    ),
    "a recursive list with contains of a leaf": obj(
        properties={"l": {"$ref": "#/$defs/l"}},
        **{"$defs": {"l": {"items": {"$ref": "#/$defs/l"}, "contains": {"type": "integer"}}}},
    ),
    "allOf of two object schemas, nested": obj(
        allOf=[
            {"properties": {"a": {"$ref": "#/$defs/inner"}}},
            {"properties": {"a": {"type": "object"}}},
        ],
        **{"$defs": {"inner": {"properties": {"b": {"type": "string"}}}}},
    ),
}


@pytest.mark.parametrize("schema", GROWING_SLOWLY.values(), ids=GROWING_SLOWLY.keys())
def test_a_schema_whose_checks_grow_slowly_is_kept(schema: dict[str, Any]) -> None:
    assert check_input_schema(schema) is schema


@pytest.mark.parametrize(
    "ref", ["#/properties/properties", "#/$defs/properties", "#/$defs/d", "#/properties/a~1b"]
)
def test_a_ref_at_a_schema_under_a_name_that_looks_like_a_keyword_is_fine(ref: str) -> None:
    schema = obj(
        properties={
            "properties": {"type": "string"},
            "a/b": {"type": "string"},
            "r": {"$ref": ref},
        },
        **{"$defs": {"properties": {"type": "integer"}, "d": {"type": "string"}}},
    )
    check_input_schema(schema)  # no refusal
