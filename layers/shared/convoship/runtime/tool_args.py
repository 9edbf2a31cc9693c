"""A tool's arguments checked against its input schema (JSON Schema Draft 2020-12), within a
bounded amount of work.

The save checks (studio/input_schema.py) refuse cycles, deep nesting and wide fan-outs on one
value, but a schema can still multiply the work level by level of the arguments: two
`patternProperties` that match one name, `properties` and `patternProperties` both applying,
`items` and `contains` on each array. Each level then doubles it, and on the public embed a
visitor's message chooses the arguments. So each keyword the validator applies costs a step,
or one per value it loops over (`patternProperties` one per pattern and property, `uniqueItems`
one per pair it may compare), and past MAX_VALIDATION_STEPS the check stops: a tool error the
model reads, like every other failure of a tool call.

Only this module's validator counts steps, so nothing may hand part of the schema to another
validator class: keywords that could (`$schema` below the top or naming another draft, `$id`,
anchors, dynamic references, a `$ref` that is not `#/...`) are refused before validating, as
at save (studio/schema_keywords.py, for schemas stored before that check); references resolve
in this document alone (no metaschema to land in), and the validator refuses to evolve into a
subschema that declares `$schema` whatever path led there. The top-level `$schema` is left
out, so a `$ref` back to the root is counted too.

A regex search costs a step too, and time: `pattern` and `patternProperties` are matched on
the `regex` package, stopped when the check has spent MATCHING_SECONDS matching
(tool_arg_patterns.py); a pattern that backtracks forever is then a tool error like the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from functools import cache
from typing import Any

from convoship.core.user_regex import shown
from convoship.runtime.tool_arg_patterns import (
    MATCHING_SECONDS,
    Matching,
    PatternTooSlow,
    PatternUnusable,
)
from convoship.studio.schema_keywords import refused_keyword

# An ordinary call takes tens of steps; a step is a few microseconds of jsonschema.
MAX_VALIDATION_STEPS = 20_000

Keyword = Callable[[Any, Any, Any, Any], Any]  # (validator, keyword value, instance, schema)

_steps_left: ContextVar[list[int] | None] = ContextVar("tool_arg_steps_left", default=None)


class _TooMuchWork(Exception):
    """The steps are spent (never a ValueError: format checks swallow those)."""


class UnmeteredSchema(Exception):
    """Validating would hand a subschema to another validator class, which counts no step."""


def args_problem(schema: dict[str, Any], args: Any) -> str | None:
    """Why the arguments are refused, as a message for the model; None when they are valid."""
    import jsonschema  # lazy: only tool calls need it

    refused = refused_keyword(schema)
    if refused is not None:
        return f"the input schema cannot be checked: {refused}"
    left = _steps_left.set([MAX_VALIDATION_STEPS])
    try:
        with Matching(_charge):
            validator = counted_validator(schema)
            error = jsonschema.exceptions.best_match(validator.iter_errors(args))
    except _TooMuchWork:
        return (
            "the arguments could not be checked against the input schema: checking them"
            f" would take too much work (more than {MAX_VALIDATION_STEPS} steps)"
        )
    except PatternTooSlow as exc:
        return (
            "the arguments could not be checked against the input schema: matching the"
            f" pattern {shown(exc.pattern)} took longer than {MATCHING_SECONDS} s and was stopped"
        )
    except PatternUnusable as exc:
        return (
            "the arguments could not be checked against the input schema: its pattern"
            f" {shown(exc.pattern)} cannot be used ({exc.reason})"
        )
    except UnmeteredSchema:
        return (
            "the arguments could not be checked against the input schema: part of it declares"
            " another $schema"
        )
    except Exception as exc:  # a schema saved before today's checks, or arguments it chokes on
        return f"the arguments could not be checked against the input schema ({type(exc).__name__})"
    finally:
        _steps_left.reset(left)
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "arguments"
    return f"invalid arguments ({where}): {error.message}"


def counted_validator(schema: dict[str, Any]) -> Any:
    """The metered Draft 2020-12 validator of schema, resolving references in schema alone:
    a reference that leaves it (a metaschema's URI, a remote one) is unresolvable, never
    fetched nor looked up among the metaschemas jsonschema knows."""
    from referencing import Registry
    from referencing.jsonschema import DRAFT202012

    root = _without_dialect(schema)
    resolver = Registry().resolver_with_root(DRAFT202012.create_resource(root))
    return _validator_class()(root, _resolver=resolver)


def _without_dialect(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema without its top-level `$schema`: validated as Draft 2020-12 whatever it says,
    and never handed to the unmetered validator `$schema` names."""
    if "$schema" not in schema:
        return schema
    return {key: value for key, value in schema.items() if key != "$schema"}


def _size(instance: Any) -> int:
    return len(instance) if isinstance(instance, dict | list) else 1


def _unique_items_cost(value: Any, instance: Any) -> int:
    """Strings alone or numbers alone are sorted; anything else is compared pair by pair."""
    if value is not True or not isinstance(instance, list):
        return 1
    if all(isinstance(i, str) for i in instance) or all(
        isinstance(i, int | float) and not isinstance(i, bool) for i in instance
    ):
        return len(instance) + 1
    return len(instance) * (len(instance) - 1) // 2 + 1


# What a keyword costs beyond one step: the values it loops over.
_COSTS: dict[str, Callable[[Any, Any], int]] = {
    "patternProperties": lambda value, instance: _size(value) * _size(instance),
    "additionalProperties": lambda _, instance: _size(instance),
    "unevaluatedProperties": lambda _, instance: _size(instance),
    "propertyNames": lambda _, instance: _size(instance),
    "items": lambda _, instance: _size(instance),
    "prefixItems": lambda _, instance: _size(instance),
    "contains": lambda _, instance: _size(instance),
    "unevaluatedItems": lambda _, instance: _size(instance),
    "uniqueItems": _unique_items_cost,
    "enum": lambda value, _: _size(value),
}


def _charge(steps: int) -> None:
    left = _steps_left.get()
    if left is not None:
        left[0] -= steps
        if left[0] < 0:
            raise _TooMuchWork


def _metered(keyword: str, check: Keyword) -> Keyword:
    cost = _COSTS.get(keyword)

    def metered(validator: Any, value: Any, instance: Any, schema: Any) -> Any:
        left = _steps_left.get()
        if left is not None:  # as _charge, inline: this runs for every keyword applied
            left[0] -= 1 if cost is None else max(1, cost(value, instance))
            if left[0] < 0:
                raise _TooMuchWork
        return check(validator, value, instance, schema)

    return metered


@cache
def _validator_class() -> Any:
    """Draft 2020-12 with every keyword metered (a validator applies subschemas through its
    own class, so the whole schema is counted)."""
    import jsonschema
    from jsonschema.validators import extend

    base = jsonschema.Draft202012Validator
    metered = extend(base, {name: _metered(name, check) for name, check in base.VALIDATORS.items()})
    evolve = metered.evolve

    def evolve_metered(self: Any, **changes: Any) -> Any:
        """jsonschema picks the class of the subschema it descends into by its `$schema`
        (validator_for): refused, so the class stays this one."""
        schema = changes.get("schema", self.schema)
        if isinstance(schema, dict) and "$schema" in schema:
            raise UnmeteredSchema
        return evolve(self, **changes)

    metered.evolve = evolve_metered
    return metered
