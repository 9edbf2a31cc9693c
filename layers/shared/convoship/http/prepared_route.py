"""Routes whose requests are read the way worked out when the route was declared.

FastAPI works out on every request how to read a route's parameters: it inspects each
annotation again, parses the content type with the email package and walks the dependency
tree. On the embed chat turn that was about 0.35 ms of the turn's overhead over its model
call (measured: README, Performance). A PreparedRoute is declared like any APIRoute, with the
same OpenAPI operation, and reads a request with what FastAPI worked out once: each
parameter is validated by FastAPI's own field for it, so values and 422 errors are
FastAPI's (tests/unit/test_prepared_route.py compares the two on hostile requests).

It takes the shape the public embed routes have, and refuses any other when it is declared
(TypeError): nothing falls back to a slower path in silence.
- path and header parameters (not lists), at most one JSON body, not embedded;
- dependencies that take the Request alone and return nothing it uses (the query guard);
- an async endpoint that returns a Response (http/responses.json_response).
FastAPI's order holds: the body is read (JSON errors first), then the dependencies run, then
path, header and body values are validated, their errors reported together.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, get_type_hints

from fastapi import params
from fastapi._compat import field_annotation_is_sequence
from fastapi.datastructures import DefaultPlaceholder
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic_core import PydanticUndefined
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class PreparedRoute(APIRoute):
    """An APIRoute whose request handler is prepared once (module docstring)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if kwargs.get("max_body_size") is not None:
            raise TypeError(f"{path}: a PreparedRoute takes no max_body_size of its own")
        super().__init__(path, endpoint, **kwargs)
        self.app = _served(self.get_route_handler())

    def get_route_handler(self) -> Handler:
        return _prepared_handler(self)


def _served(handler: Handler) -> ASGIApp:
    """The route's ASGI app: FastAPI's request_response without its exit stacks (nothing a
    prepared route runs yields) or its own exception wrapper (the app's ExceptionMiddleware
    maps what the handler raises, to the same handlers)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        response = await handler(Request(scope, receive, send))
        await response(scope, receive, send)

    return app


class _Param:
    """One path or header parameter: where the request holds it, how it is validated. (A
    plain class: a dataclass costs each cold start about a millisecond to build.)"""

    __slots__ = ("field", "key", "loc")

    def __init__(self, field: Any, where: str) -> None:
        self.field = field  # FastAPI's ModelField for it
        self.key = field.alias  # the path parameter's name, or the header's
        self.loc = (where, field.alias)

    def read(self, received: Mapping[str, Any], values: dict[str, Any], errors: list[Any]) -> None:
        value = received.get(self.key)
        absent = value is None
        _validate(self.field, PydanticUndefined if absent else value, self.loc, values, errors)


def _validate(
    field: Any, value: Any, loc: tuple[str, ...], values: dict[str, Any], errors: list[Any]
) -> None:
    """FastAPI's validation of one parameter: an absent one (PydanticUndefined) takes the
    field's default, or is the missing-field error."""
    if value is PydanticUndefined:
        info = field.field_info
        if info.is_required():
            errors.append({"type": "missing", "loc": loc, "msg": "Field required", "input": None})
            return
        value = info.get_default(call_default_factory=True)
        if not info.validate_default:
            values[field.name] = value
            return
    validated, found = field.validate(value, values, loc=loc)
    if found:
        errors.extend(found)
    else:
        values[field.name] = validated


def _prepared_handler(route: APIRoute) -> Handler:
    dependant = route.dependant
    _refuse_unprepared(route)
    checks = tuple(d.call for d in dependant.dependencies)
    path = tuple(_Param(field, "path") for field in dependant.path_params)
    headers = tuple(_Param(field, "header") for field in dependant.header_params)
    body_field = route.body_field
    strict = route.strict_content_type
    strict_content_type = bool(strict.value if isinstance(strict, DefaultPlaceholder) else strict)
    endpoint = dependant.call
    request_name = dependant.request_param_name
    assert endpoint is not None

    async def handler(request: Request) -> Response:
        body = await _body(request, strict_content_type) if body_field is not None else None
        for check in checks:
            await check(request)  # type: ignore[misc]
        values: dict[str, Any] = {}
        errors: list[Any] = []
        if path:
            path_params = request.path_params
            for param in path:
                param.read(path_params, values, errors)
        if headers:
            received = request.headers
            for param in headers:
                param.read(received, values, errors)
        if body_field is not None:
            _validate(body_field, body, ("body",), values, errors)
        if errors:
            raise RequestValidationError(errors, body=body)
        if request_name:
            values[request_name] = request
        response = await endpoint(**values)
        if not isinstance(response, Response):
            raise TypeError(f"{route.path}: a prepared route's endpoint returns a Response")
        return response

    return handler


async def _body(request: Request, strict_content_type: bool) -> Any:
    """The body as FastAPI reads it for a JSON body parameter: parsed when the content type
    is JSON (or absent, when not strict), the bytes otherwise, PydanticUndefined if empty.
    JSON that does not parse is its 422; anything else that fails (a broken stream, bytes in
    no Unicode encoding, nesting deeper than the parser recurses) its 400, as FastAPI's."""
    try:
        body = await request.body()
        if not body:
            return PydanticUndefined
        content_type = request.headers.get("content-type")
        if not content_type:
            if strict_content_type:
                return body
        elif not _is_json(content_type):
            return body
        return json.loads(body)
    except json.JSONDecodeError as exc:
        error = {
            "type": "json_invalid",
            "loc": ("body", exc.pos),
            "msg": "JSON decode error",
            "input": {},
            "ctx": {"error": exc.msg},
        }
        raise RequestValidationError([error], body=exc.doc) from exc
    except Exception as exc:
        raise HTTPException(status_code=400, detail="There was an error parsing the body") from exc


def _is_json(content_type: str) -> bool:
    """application/json or application/*+json, as email.message parses the header."""
    media = content_type.partition(";")[0].strip().lower()
    if media.count("/") != 1:
        return False
    main, sub = media.split("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


def _refuse_unprepared(route: APIRoute) -> None:
    """TypeError for a route whose shape the prepared handler does not read."""
    dependant = route.dependant
    name = f"{sorted(route.methods or ())} {route.path}"
    refusals = []
    if dependant.query_params or dependant.cookie_params:
        refusals.append("query or cookie parameters")
    if len(dependant.body_params) > 1 or getattr(route, "_embed_body_fields", False):
        refusals.append("more than one body parameter, or an embedded one")
    if route.body_field is not None and isinstance(route.body_field.field_info, params.Form):
        refusals.append("a form body")
    for field in (*dependant.path_params, *dependant.header_params):
        info = field.field_info
        if info.validation_alias is not None or field_annotation_is_sequence(info.annotation):
            refusals.append(f"parameter {field.name}: a list, or a validation alias")
    if (
        dependant.background_tasks_param_name
        or dependant.response_param_name
        or dependant.websocket_param_name
        or dependant.http_connection_param_name
        or dependant.security_scopes_param_name
    ):
        refusals.append("background tasks, a Response, security scopes or a connection")
    for dependency in dependant.dependencies:
        takes_request_alone = (
            inspect.iscoroutinefunction(dependency.call)
            and dependency.request_param_name is not None
            and not dependency.dependencies
            and not dependency.path_params
            and not dependency.query_params
            and not dependency.header_params
            and not dependency.cookie_params
            and not dependency.body_params
        )
        if not takes_request_alone:
            refusals.append("a dependency that takes more than the Request, or is not async")
    if not inspect.iscoroutinefunction(dependant.call):
        refusals.append("an endpoint that is not async")
    try:
        returns = get_type_hints(dependant.call).get("return")
    except Exception:  # an annotation that does not resolve
        returns = None
    if not (isinstance(returns, type) and issubclass(returns, Response)):
        refusals.append("an endpoint not declared to return a Response")
    if refusals:
        raise TypeError(f"{name} cannot be a PreparedRoute: {'; '.join(refusals)}")
