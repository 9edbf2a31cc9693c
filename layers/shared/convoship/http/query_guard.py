"""Unknown query parameters are 422, on every route, and so is a NUL in a query value.

A client that sends `next_cursor` back instead of `cursor` must not silently get page 1
again: a parameter the route does not declare is a mistake worth reporting. A NUL (`%00`)
is text no column holds: the database refused it, as if a value of the body were at fault.
The app factory adds this dependency to every route; a request without a query string costs
one dict read.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from convoship.core.errors import ValidationFailed

# The query parameters each route declares (its own and its dependencies'), by route.
_DECLARED: dict[int, frozenset[str]] = {}


def _declared_query_names(dependant: Any) -> frozenset[str]:
    names: set[str] = set()
    todo = [dependant]
    while todo:
        current = todo.pop()
        names.update(field.alias for field in current.query_params)
        todo.extend(current.dependencies)
    return frozenset(names)


def _declared(route: Any) -> frozenset[str]:
    key = id(route)
    names = _DECLARED.get(key)
    if names is None:
        dependant = getattr(route, "dependant", None)
        names = _declared_query_names(dependant) if dependant is not None else frozenset()
        _DECLARED[key] = names
    return names


def _message(name: str, declared: frozenset[str]) -> str:
    if name == "next_cursor" and "cursor" in declared:
        return "unknown query parameter: send the previous page's next_cursor as cursor"
    takes = ", ".join(sorted(declared)) if declared else "none"
    return f"unknown query parameter (this route takes: {takes})"


async def reject_unknown_query_parameters(request: Request) -> None:
    """422 `validation` naming each query parameter the route does not declare."""
    if not request.scope.get("query_string"):
        return
    declared = _declared(request.scope.get("route"))
    unknown = sorted({name for name in request.query_params if name not in declared})
    if unknown:
        raise ValidationFailed(
            "the query string names parameters this route does not take",
            [{"loc": ["query", name], "msg": _message(name, declared)} for name in unknown],
        )
    holding_nul = sorted(
        {name for name, value in request.query_params.multi_items() if "\x00" in value}
    )
    if holding_nul:
        raise ValidationFailed(
            "a query value holds a NUL character",
            [{"loc": ["query", name], "msg": "contains a NUL character"} for name in holding_nul],
        )
