"""The one way to declare a router of API routes: every route refuses unknown query parameters.

create_app serves the routes as they were built when declared (not through include_router),
so a dependency for every route must be on the router when its routes are declared.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.routing import APIRoute

from convoship.http.prepared_route import PreparedRoute
from convoship.http.query_guard import reject_unknown_query_parameters


def api_router(*, prefix: str = "", tags: Sequence[str] = (), prepared: bool = False) -> APIRouter:
    """prepared: its routes read requests as worked out when declared (http/prepared_route.py),
    for the public routes every visitor's turn pays for."""
    return APIRouter(
        prefix=prefix,
        tags=list(tags),
        dependencies=[Depends(reject_unknown_query_parameters)],
        route_class=PreparedRoute if prepared else APIRoute,
    )


def unguarded_routes(routes: Sequence[Any]) -> list[str]:
    """The API routes that would run without the query guard (declared on a plain router)."""
    return [
        f"{sorted(route.methods or ())} {route.path}"
        for route in routes
        if isinstance(route, APIRoute)
        and not any(d.call is reject_unknown_query_parameters for d in route.dependant.dependencies)
    ]
