"""create_app: each route is analysed once, when it is declared, never again on a request."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest
from fastapi import APIRouter, routing
from pydantic import BaseModel

from convoship.http.app import create_app, make_handler
from convoship.http.models import ResponseModel
from convoship.http.routing import api_router
from convoship_dev.lambda_events import LambdaContext, http_api_event


class ThingIn(BaseModel):
    size: int


class ThingOut(ResponseModel):
    name: str
    size: int


def _router() -> APIRouter:
    router = api_router(prefix="/v1/things", tags=("things",))

    @router.get("/{name}")
    async def get_thing(name: str) -> dict[str, str]:
        return {"name": name}

    @router.put("/{name}", response_model=ThingOut)
    async def put_thing(name: str, body: ThingIn) -> ThingOut:
        return ThingOut(name=name, size=body.size)

    return router


def test_the_app_serves_the_routes_it_was_given_as_they_are() -> None:
    router = _router()
    app = create_app("things", [router])
    assert [route for route in app.routes if route in router.routes] == router.routes


def test_the_first_request_builds_no_route_again(monkeypatch: pytest.MonkeyPatch) -> None:
    app = create_app("things", [_router()])
    built: list[Any] = []
    real = routing._populate_api_route_state

    def counting(*args: Any, **kwargs: Any) -> Any:
        built.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(routing, "_populate_api_route_state", counting)
    event = http_api_event(
        "GET", "/v1/things/x", "", [], b"", "GET /v1/things/{name}", {"name": "x"}, None
    )
    result = make_handler(app)(event, LambdaContext("things"))
    assert result["statusCode"] == 200, result
    assert built == []  # include_router would have built the route again here


def test_a_first_request_with_a_body_and_a_deferred_response_warns_nothing() -> None:
    handler = make_handler(create_app("things", [_router()]))
    event = http_api_event(
        "PUT",
        "/v1/things/x",
        "",
        [("content-type", "application/json")],
        b'{"size": 3}',
        "PUT /v1/things/{name}",
        {"name": "x"},
        None,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = handler(event, LambdaContext("things"))
    assert result["statusCode"] == 200, result
    assert json.loads(result["body"]) == {"name": "x", "size": 3}
    # (a ResourceWarning may come from an earlier test's event loop being collected here)
    assert [str(w.message) for w in caught if w.category is not ResourceWarning] == []


def test_a_router_declared_without_the_query_guard_is_refused_at_import() -> None:
    # Served as declared, a plain router's routes would never get the app's dependencies,
    # and an unknown query parameter (next_cursor sent back as is) would pass unnoticed.
    plain = APIRouter(prefix="/v1/things")

    @plain.get("/{name}")
    async def get_thing(name: str) -> dict[str, str]:
        return {"name": name}

    with pytest.raises(TypeError, match=r"without api_router: \['GET'\] /v1/things/\{name\}"):
        create_app("things", [plain])


def test_an_unknown_query_parameter_is_refused_on_a_router_route() -> None:
    handler = make_handler(create_app("things", [_router()]))
    event = http_api_event(
        "GET", "/v1/things/x", "bogus=1", [], b"", "GET /v1/things/{name}", {"name": "x"}, None
    )
    result = handler(event, LambdaContext("things"))
    assert result["statusCode"] == 422, result
    assert "bogus" in result["body"]
