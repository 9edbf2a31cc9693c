"""A tool's input schema, checked at save so that validating arguments at call time ends.

Refused: nesting deeper than MAX_JSON_DEPTH (validators recurse per level), references
that leave the document (validating would fetch them), references that resolve to nothing
or to something that is not a schema, reference cycles that never reach into the arguments
(`{"$ref": "#"}`, `a -> b -> a`, `allOf: [{"$ref": "#"}]`: validating those recurses forever
on any input), fan-outs applying more than MAX_FAN_OUT subschemas to one value (`allOf`
of two refs to the next of twenty `$defs`: a million checks), in place or level after level
of the arguments (two `patternProperties` matching one name under a `$ref` back to the root:
2**32 checks of a 32-deep argument; schema_levels.py), keywords that would hand part of the
schema to another validator class, outside the call-time work budget of runtime/tool_args.py
(`$id`, anchors, dynamic references, `$schema` other than Draft 2020-12 at the top:
schema_keywords.py), and patterns that do not compile within bounds (schema_patterns.py).

The document is read as a document first, cheaply: its size, nesting and those keywords are
refused (a 422 naming what and where, ValidationFailed) before any check that interprets it
(the metaschema, patterns, references), which raise ValueError. A recursive
schema that descends into the arguments on the way round (a tree of `children`) stays
allowed: validating it ends with the arguments.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from convoship.core.errors import ValidationFailed
from convoship.core.validation import MAX_JSON_DEPTH, check_json_document
from convoship.studio.schema_keywords import refused_keyword
from convoship.studio.schema_levels import descending_groups, most_checks_of_one_value
from convoship.studio.schema_patterns import check_schema_patterns

MAX_SCHEMA_BYTES = 64 * 1024  # as compact JSON
_LOC = ("body", "input_schema")
MAX_FAN_OUT = 1000  # two refs to the next of 20 $defs would mean a million checks
_REF_KEYWORDS = ("$ref", "$dynamicRef")
# Keywords whose subschemas apply to the same instance (no descent into the arguments).
_IN_PLACE_ONE = ("not", "if", "then", "else")
_IN_PLACE_MANY = ("allOf", "anyOf", "oneOf")

Edge = tuple[int, str | None]  # the id of a schema applied in place, and the $ref leading there


def _in_place_schemas(schema: dict[str, Any]) -> Iterator[Any]:
    for keyword in _IN_PLACE_ONE:
        if keyword in schema:
            yield schema[keyword]
    for keyword in _IN_PLACE_MANY:
        yield from schema.get(keyword) or ()
    yield from (schema.get("dependentSchemas") or {}).values()


def _resolve(schema: dict[str, Any], resolver: Any) -> Iterator[tuple[Any, Any, str]]:
    """(target, its resolver, the reference) for each reference of schema; ValueError when
    one leaves the document, resolves to nothing or to something that is not a schema."""
    from referencing.exceptions import Unresolvable

    for keyword in _REF_KEYWORDS:
        ref = schema.get(keyword)
        if not isinstance(ref, str):
            continue
        try:  # the registry holds this document only: nothing is ever fetched
            resolved = resolver.lookup(ref)
        except Unresolvable:
            if not ref.startswith("#"):
                raise ValueError(
                    f"only local references (#/...) are allowed, not {ref!r}"
                ) from None
            raise ValueError(f"{keyword} {ref!r} does not resolve to anything") from None
        if not isinstance(resolved.contents, dict | bool):
            raise ValueError(f"{keyword} {ref!r} does not point to a schema")
        yield resolved.contents, resolved.resolver, ref


def _in_place_graph(
    root: dict[str, Any], groups: dict[int, list[list[Any]]] | None = None
) -> dict[int, list[Edge]]:
    """Every schema reachable from root (nested, or by reference), each with the schemas it
    applies to the same instance (and into groups, if given, those it applies to each kind of
    child value: schema_levels.descending_groups)."""
    from referencing import Registry
    from referencing.jsonschema import DRAFT202012

    graph: dict[int, list[Edge]] = {}
    todo: list[tuple[Any, Any]] = [
        (root, Registry().resolver_with_root(DRAFT202012.create_resource(root)))
    ]
    while todo:
        schema, resolver = todo.pop()
        if not isinstance(schema, dict) or id(schema) in graph:
            continue
        targets = list(_resolve(schema, resolver))
        graph[id(schema)] = [(id(target), ref) for target, _, ref in targets] + [
            (id(sub), None) for sub in _in_place_schemas(schema)
        ]
        if groups is not None:
            groups[id(schema)] = descending_groups(schema)
        todo += [(target, target_resolver) for target, target_resolver, _ in targets]
        todo += [
            (sub, resolver.in_subresource(DRAFT202012.create_resource(sub)))
            for sub in DRAFT202012.subresources_of(schema)
        ]
    return graph


def _cycle(graph: dict[int, list[Edge]]) -> str | None:
    """A reference on a cycle of in-place applications, if there is one (iterative DFS)."""
    state: dict[int, int] = {}  # 1: on the current path, 2: done
    for start in graph:
        if start in state:
            continue
        state[start] = 1
        path: list[tuple[int, Iterator[Edge], str | None]] = [(start, iter(graph[start]), None)]
        while path:
            node, edges, _ = path[-1]
            child, ref = next(edges, (None, None))
            if child is None:
                state[node] = 2
                path.pop()
            elif state.get(child) == 1:  # back on the path: a cycle, closed by ref
                on_cycle = [r for n, _, r in path[[p[0] for p in path].index(child) + 1 :]]
                return next((r for r in [ref, *on_cycle] if r is not None), "#")
            elif child not in state and child in graph:
                state[child] = 1
                path.append((child, iter(graph[child]), ref))
    return None


def _widest_fan_out(graph: dict[int, list[Edge]]) -> int:
    """The most schemas one instance location can be checked against (a DAG: no cycle)."""
    count: dict[int, int] = {}
    for start in graph:
        stack = [start]
        while stack:
            node = stack[-1]
            pending = [c for c, _ in graph[node] if c in graph and c not in count]
            if pending:
                stack += pending
                continue
            stack.pop()
            count[node] = 1 + sum(count.get(c, 1) for c, _ in graph[node])
    return max(count.values(), default=1)


def check_schema_document(schema: dict[str, Any]) -> None:
    """What can be refused without interpreting the schema, cheapest first: nesting deeper
    than MAX_JSON_DEPTH, values no database stores, more than MAX_SCHEMA_BYTES, and keywords
    the metered validator cannot keep to itself. ValidationFailed (422) naming what and
    where."""
    check_json_document(schema, MAX_SCHEMA_BYTES, _LOC)
    problem = refused_keyword(schema)
    if problem is not None:
        raise ValidationFailed.at(_LOC, problem)


def check_input_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """schema when arguments can safely be validated against it; ValidationFailed
    (check_schema_document) or ValueError (a message for the caller) otherwise."""
    import jsonschema  # lazy: slow to import, and only tool writes need it

    check_schema_document(schema)
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ValueError(f"not a valid JSON Schema: {exc.message}") from None
    if schema.get("type") != "object":
        raise ValueError('the top level must be {"type": "object", ...}: tools take named args')
    check_schema_patterns(schema)
    groups: dict[int, list[list[Any]]] = {}
    graph = _in_place_graph(schema, groups)
    ref = _cycle(graph)
    if ref is not None:
        raise ValueError(
            f"$ref cycle through {ref!r}: the schema refers back to itself without"
            " descending into the arguments, so validating them would never end"
        )
    if _widest_fan_out(graph) > MAX_FAN_OUT:
        raise ValueError(
            f"the schema applies more than {MAX_FAN_OUT} subschemas to one value (through"
            " allOf/anyOf/oneOf/$ref): validating arguments would take too long"
        )
    in_place = {node: [child for child, _ in edges] for node, edges in graph.items()}
    if most_checks_of_one_value(schema, in_place, groups, MAX_JSON_DEPTH) > MAX_FAN_OUT:
        raise ValueError(
            f"the schema can apply more than {MAX_FAN_OUT} subschemas to one value of the"
            " arguments, level after level (patternProperties that may match the same name,"
            " properties with patternProperties, items with contains): validating arguments"
            " would take too long"
        )
    return schema
