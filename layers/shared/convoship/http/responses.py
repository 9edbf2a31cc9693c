"""A response body validated once, handed to FastAPI already serialised.

A route that returns a model makes FastAPI validate it against the route's response_model
a second time before serialising it; a Response goes out as it is. The route keeps its
response_model (the OpenAPI document describes the body from it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Response
from pydantic import BaseModel


def json_response(
    model: type[BaseModel], body: Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> Response:
    """`body` validated as `model` and serialised as FastAPI would (JSON, by alias), with
    `headers` after content-length and content-type, where FastAPI puts a route's own."""
    validated = model.model_validate(body)
    content = validated.__pydantic_serializer__.to_json(validated, by_alias=True)
    response = Response(content, media_type="application/json")
    if headers:
        raw = response.raw_headers
        added = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        if len({name for name, _ in raw} | {name for name, _ in added}) == len(raw) + len(added):
            raw.extend(added)  # what MutableHeaders.update appends, one name at a time
        else:  # a name given twice, or content-length/-type: replaced in place as Starlette does
            response.headers.update(headers)
    return response
