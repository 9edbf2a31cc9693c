"""How many times one value of the arguments may be checked, counted level by level.

`_widest_fan_out` (input_schema.py) bounds the subschemas applied to one value in place. This
bounds what they pass down: when several subschemas apply to the same child value (two
`patternProperties` both matching a name, `properties` with `patternProperties`, `items` with
`contains`), the count multiplies at each level of the arguments, and a recursive schema or a
chain of `$defs` repeats that level after level. The bound is conservative: every pattern is
taken to match every name.
"""

from __future__ import annotations

from typing import Any

Groups = list[list[int]]  # per kind of child value: the ids of the subschemas that all apply to it


def descending_groups(schema: dict[str, Any]) -> list[list[Any]]:
    """For each kind of child value (a named property, any other property, a prefix item, any
    other item, a property name), the subschemas that may all apply to it."""
    every_name = [*(schema.get("patternProperties") or {}).values()]
    every_name += [schema[k] for k in ("unevaluatedProperties",) if k in schema]
    every_item = [schema[k] for k in ("contains", "unevaluatedItems") if k in schema]
    groups = [[sub, *every_name] for sub in (schema.get("properties") or {}).values()]
    groups.append([*every_name, *[schema[k] for k in ("additionalProperties",) if k in schema]])
    groups += [[sub, *every_item] for sub in schema.get("prefixItems") or ()]
    groups.append([*every_item, *[schema[k] for k in ("items",) if k in schema]])
    if "propertyNames" in schema:
        groups.append([schema["propertyNames"]])
    return [group for group in groups if group]


def most_checks_of_one_value(
    root: dict[str, Any],
    in_place: dict[int, list[int]],
    groups: dict[int, list[list[Any]]],
    levels: int,
) -> int:
    """An upper bound of how many schemas are applied to any one value at most `levels` below
    the arguments, when root is applied to them. in_place (the schemas each applies to the
    same value, by id) must be acyclic; groups are each schema's descending_groups."""
    kinds: dict[int, Groups] = {
        node: [[id(sub) for sub in group if id(sub) in in_place] for group in node_groups]
        for node, node_groups in groups.items()
    }  # `true` and `false` check nothing below: not in the graph
    order = _children_first(in_place)
    below: dict[int, int] = {}  # the bound one level shallower, per schema
    for level in range(levels + 1):
        here: dict[int, int] = {}
        for node in order:
            passed_down = max(
                (sum(below.get(c, 0) for c in group) for group in kinds.get(node, ())),
                default=0,
            )
            # The value itself (one check), or one below it; plus what is applied in place.
            here[node] = max(1, passed_down if level else 0) + sum(
                here.get(c, 0) for c in in_place[node] if c in in_place
            )
        if here == below:  # each level is computed from the one above: nothing changes now
            break
        below = here
    return below.get(id(root), 1)


def _children_first(graph: dict[int, list[int]]) -> list[int]:
    """The nodes of an acyclic graph, each after every node it points to (iterative)."""
    order: list[int] = []
    seen: set[int] = set()
    for start in graph:
        stack: list[tuple[int, bool]] = [(start, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
            elif node not in seen:
                seen.add(node)
                stack.append((node, True))
                stack += [(c, False) for c in graph.get(node, ()) if c in graph and c not in seen]
    return order
