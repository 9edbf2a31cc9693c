"""A tool's arguments are checked against its input schema within a bounded amount of work: a
schema can make validation multiply its work level by level of the arguments, and a visitor of
the public embed chooses the arguments (issue 11, left open). Such schemas are now refused at
save (test_input_schema.py); these were stored before, and every channel stays bounded.

Work is counted with the calls made (regex searches of `patternProperties`, the library's equality
tests of `uniqueItems`), never with a clock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jsonschema._utils
import pytest

from convoship.core.errors import ValidationFailed
from convoship.runtime.tool_arg_patterns import Matching
from convoship.runtime.tool_args import (
    MAX_VALIDATION_STEPS,
    UnmeteredSchema,
    args_problem,
    counted_validator,
)
from convoship.studio.input_schema import check_input_schema
from tests.unit.test_input_schema import SHADOWING

TOO_MUCH = "checking them would take too much work"
DRAFT = "https://json-schema.org/draft/2020-12/schema"


def obj(**keywords: Any) -> dict[str, Any]:
    return {"type": "object", **keywords}


def nested(levels: int, key: str = "a") -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels):
        value = {key: value}
    return value


# Two patterns that both match "a": every level of the arguments doubles the work.
TWO_PATTERNS = obj(patternProperties={"a": {"$ref": "#"}, "^a": {"$ref": "#"}})
# The same without recursion: each of 30 $defs applies the next one twice.
CHAIN = obj(
    **{
        "$ref": "#/$defs/l0",
        "$defs": {
            f"l{i}": {
                "properties": {"a": {"$ref": f"#/$defs/l{i + 1}"}},
                "patternProperties": {"a": {"$ref": f"#/$defs/l{i + 1}"}},
            }
            for i in range(30)
        }
        | {"l30": {}},
    }
)
# properties and patternProperties both apply to "a"; items and contains to each item.
LIST = {"items": {"$ref": "#/$defs/list"}, "contains": {"$ref": "#/$defs/list"}}
BOTH = obj(
    properties={"a": {"$ref": "#"}, "l": {"$ref": "#/$defs/list"}},
    patternProperties={"^a$": {"$ref": "#"}},
    **{"$defs": {"list": LIST}},
)


class Counted:
    """Counts calls to a library function; past `limit` it raises, so that a check that runs
    away fails this test instead of running for hours."""

    def __init__(self, function: Callable[..., Any], limit: int) -> None:
        self.function, self.limit, self.calls = function, limit, 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls > self.limit:
            raise RuntimeError("runaway validation")
        return self.function(*args, **kwargs)


@pytest.fixture
def searches(monkeypatch: pytest.MonkeyPatch) -> Counted:
    """The regex searches `patternProperties` makes: one per pattern, property and schema."""
    counted = Counted(Matching.search, limit=10 * MAX_VALIDATION_STEPS)
    monkeypatch.setattr(Matching, "search", lambda self, *args: counted(self, *args))
    return counted


@pytest.mark.parametrize(
    ("schema", "args"),
    [
        (TWO_PATTERNS, nested(30)),
        (CHAIN, nested(31)),
        (BOTH, nested(30)),
        ({"$schema": DRAFT, **TWO_PATTERNS}, nested(30)),  # `$ref: "#"` reads it again
    ],
    ids=["two patterns", "chain of $defs", "properties and patterns", "with $schema"],
)
def test_arguments_that_multiply_the_work_stop_at_the_budget(
    schema: dict[str, Any], args: Any, searches: Counted
) -> None:
    with pytest.raises(ValueError, match="level after level"):
        check_input_schema(schema)  # refused at save today; this one was stored before
    problem = args_problem(schema, args)
    assert problem is not None
    assert TOO_MUCH in problem
    assert searches.calls <= 4 * MAX_VALIDATION_STEPS


def test_items_and_contains_on_each_level_stop_at_the_budget() -> None:
    schema = obj(properties={"l": {"$ref": "#/$defs/list"}}, **{"$defs": BOTH["$defs"]})
    args: Any = [1]  # valid at the bottom: every level is checked in full
    for _ in range(30):
        args = [args]
    problem = args_problem(schema, {"l": args})
    assert problem is not None
    assert TOO_MUCH in problem


def test_the_work_grows_with_each_level_until_the_budget(searches: Counted) -> None:
    used = []
    for levels in (4, 5, 6):
        searches.calls = 0
        assert args_problem(TWO_PATTERNS, nested(levels)) is None
        used.append(searches.calls)
    assert used[1] >= 2 * used[0]
    assert used[2] >= 2 * used[1]


def test_many_patterns_times_many_properties_are_charged_before_searching(
    searches: Counted,
) -> None:
    schema = obj(patternProperties={f"^p{i}$": {"type": "string"} for i in range(600)})
    problem = args_problem(schema, {f"k{i}": "v" for i in range(600)})
    assert problem is not None
    assert TOO_MUCH in problem
    assert searches.calls == 0


def test_unique_items_of_many_objects_are_charged_before_comparing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    counted = Counted(jsonschema._utils.equal, limit=10 * MAX_VALIDATION_STEPS)
    monkeypatch.setattr(jsonschema._utils, "equal", counted)
    schema = obj(properties={"rows": {"type": "array", "uniqueItems": True}})
    problem = args_problem(schema, {"rows": [{"n": i} for i in range(3000)]})
    assert problem is not None
    assert TOO_MUCH in problem
    assert counted.calls == 0
    assert args_problem(schema, {"rows": [f"s{i}" for i in range(3000)]}) is None  # sorted: cheap


WEATHER = obj(
    properties={
        "city": {"type": "string", "maxLength": 100},
        "units": {"enum": ["metric", "imperial"]},
        "days": {"type": "integer", "minimum": 1, "maximum": 14},
        "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
    },
    required=["city"],
    additionalProperties=False,
)


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        ({"city": "Paris", "units": "metric", "days": 3, "tags": ["a", "b"]}, None),
        ({"units": "metric"}, "invalid arguments (arguments): 'city' is a required property"),
        ({"city": "Paris", "days": 20}, "invalid arguments (days): 20 is greater than"),
        ({"city": "x", "tags": ["a", "a"]}, "invalid arguments (tags): ['a', 'a'] has non-unique"),
    ],
)
def test_ordinary_arguments_are_checked_as_before(args: Any, problem: str | None) -> None:
    found = args_problem(WEATHER, args)
    assert found == problem if problem is None else (found or "").startswith(problem)


def test_a_large_but_ordinary_argument_fits_the_budget() -> None:
    rows = {"type": "array", "items": WEATHER}
    args = {"rows": [{"city": f"c{i}", "units": "metric", "days": 2} for i in range(500)]}
    assert args_problem(obj(properties={"rows": rows}), args) is None


@pytest.mark.parametrize(
    "schema",
    [
        obj(properties={"a": {"$schema": "http://json-schema.org/draft-04/schema#"}}),
        obj(properties={"a": {"$ref": "#/$defs/x"}}, **{"$defs": {"x": {"$schema": DRAFT}}}),
    ],
    ids=["draft 4 inside", "2020-12 inside"],
)
def test_a_schema_that_switches_dialect_inside_is_refused(schema: dict[str, Any]) -> None:
    """Another `$schema` inside would hand that part to a validator the budget does not see."""
    with pytest.raises(ValidationFailed, match=r"\$schema"):
        check_input_schema(schema)
    problem = args_problem(schema, {"a": 1})  # stored before this check
    assert problem is not None
    assert "$schema" in problem


@pytest.mark.parametrize(
    "dialect",
    [
        DRAFT,
        DRAFT + "#",
        "https://json-schema.org/draft/2019-09/schema",
        "http://json-schema.org/draft-07/schema#",
        "http://json-schema.org/draft-06/schema#",
        "http://json-schema.org/draft-04/schema#",
        "http://json-schema.org/draft-04/schema",
        "http://json-schema.org/draft-03/schema#",
    ],
)
def test_a_top_level_schema_declaration_naming_a_draft_is_fine(dialect: str) -> None:
    """Tools saved with a Draft 7 or Draft 4 `$schema` keep working: at the top it is
    stripped, and the schema is validated as Draft 2020-12, at save and at call time."""
    schema = obj(**{"$schema": dialect}, properties={"a": {"type": "integer"}})
    assert check_input_schema(schema) is schema
    assert args_problem(schema, {"a": 1}) is None
    assert args_problem(schema, {"a": "x"}) == "invalid arguments (a): 'x' is not of type 'integer'"


@pytest.mark.parametrize(
    "dialect",
    [
        "https://evil.example/draft-07/schema#",
        "http://json-schema.org/draft-05/schema#",
        "https://json-schema.org/draft/2020-12/meta/applicator",
        "http://json-schema.org/schema#",
        "",
    ],
)
def test_a_top_level_schema_declaration_naming_no_draft_is_refused(dialect: str) -> None:
    schema = obj(**{"$schema": dialect}, properties={"a": {"type": "integer"}})
    with pytest.raises(ValidationFailed, match=r"\$schema"):
        check_input_schema(schema)
    problem = args_problem(schema, {"a": 1})
    assert problem is not None and problem.startswith("the input schema cannot be checked")


@pytest.mark.parametrize(("schema", "keyword", "pointer"), SHADOWING.values(), ids=SHADOWING)
def test_a_stored_schema_that_could_leave_the_metered_validator_is_refused_at_call(
    schema: dict[str, Any], keyword: str, pointer: str
) -> None:
    """Stored before the save check existed: the call is refused, nothing is validated."""
    problem = args_problem(schema, {"a": {"a": 1}})
    assert problem is not None
    assert problem.startswith("the input schema cannot be checked: ")
    assert keyword in problem
    assert pointer in problem


# Each of these, validated by jsonschema's own means, lands in a subschema declaring `$schema`
# (a metaschema, by URI) and switches to a validator class that counts nothing.
LANDING_IN_A_METASCHEMA = {
    "$ref to the metaschema": obj(properties={"a": {"$ref": DRAFT}}),
    "$ref to a vocabulary": obj(
        properties={"a": {"$ref": "https://json-schema.org/draft/2020-12/meta/applicator"}}
    ),
    "$ref to draft 4": obj(properties={"a": {"$ref": "http://json-schema.org/draft-04/schema"}}),
}


@pytest.mark.parametrize("schema", LANDING_IN_A_METASCHEMA.values(), ids=LANDING_IN_A_METASCHEMA)
def test_the_counted_validator_resolves_nothing_outside_the_schema(schema: dict[str, Any]) -> None:
    from jsonschema.exceptions import _WrappedReferencingError

    validator = counted_validator(schema)
    with pytest.raises(_WrappedReferencingError, match="Unresolvable"):
        list(validator.iter_errors({"a": {"type": "string"}}))


def test_the_counted_validator_never_evolves_into_another_class() -> None:
    """Whatever path leads to a subschema that declares `$schema`, validating stops there."""
    schema = obj(
        properties={"a": {"$ref": "#/$defs/x"}},
        **{"$defs": {"x": {"$schema": "http://json-schema.org/draft-04/schema#"}}},
    )
    validator = counted_validator(schema)
    with pytest.raises(UnmeteredSchema):
        list(validator.iter_errors({"a": 1}))
    assert type(validator.evolve(schema={"type": "string"})) is type(validator)
