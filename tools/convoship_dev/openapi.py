"""One OpenAPI document for the whole HTTP API, merged from every function's FastAPI app
and made to tell the truth about each route (openapi_routes.py): the security it really
has, every status it can answer, errors as problem+json.

Built here, in the dev tooling, never in a handler: a Lambda cold start pays nothing for
it. `make openapi` writes it to openapi.json; `convoship serve` serves it at /openapi.json.
"""

from __future__ import annotations

import copy
import sys
from typing import Any

from convoship_dev.services import PROJECT_ROOT

TEMPLATE = PROJECT_ROOT / "template.yaml"
# FastAPI's own validation error, which this API never sends (its 422 is a problem).
_FASTAPI_ONLY = ("HTTPValidationError", "ValidationError")
_DESCRIPTION = """\
Studio routes take `Authorization: Bearer <JWT>` (HS256; claims `sub`, `wid`, `role`,
`exp`), checked by API Gateway's authorizer before the function runs: no header is its 401,
a bad or expired token its 403, both as `{"message": ...}`. Embed routes are public: the
agent's `public_token` in the path is the credential.

Every other error is an RFC 9457 problem (`application/problem+json`), `type`
`/problems/<slug>`; validation problems list `errors` as `{"loc", "msg"}`. A query
parameter a route does not declare is 422 (send a page's `next_cursor` back as `cursor`).
Every response from a function carries `X-Request-Id`.
"""


def _operations(app: Any) -> dict[str, Any]:
    """The app's paths, each operation given its real security and error answers."""
    from fastapi.routing import APIRoute, iter_route_contexts

    from convoship_dev.openapi_routes import STUDIO_SECURITY, error_responses, facts_of

    document = copy.deepcopy(app.openapi())  # FastAPI caches its own; leave that as it is
    for context in iter_route_contexts(app.routes):  # what FastAPI's own openapi() walks
        route = context.original_route
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        for method in sorted(route.methods):
            operation = document["paths"][route.path][method.lower()]
            facts = facts_of(route, method)
            operation["security"] = STUDIO_SECURITY if facts.studio else []
            for parameter in operation.get("parameters", []):
                schema = parameter["schema"]
                if parameter["in"] == "path" and schema.get("type") == "string":
                    schema.setdefault("minLength", 1)  # an empty segment routes elsewhere
            responses = operation["responses"]
            declared = {s: responses.pop(s) for s in list(responses) if int(s) >= 400}
            responses.update(error_responses(facts, declared))
    return document


def _merge_schemas(into: dict[str, Any], schemas: dict[str, Any]) -> None:
    for name, schema in schemas.items():
        if name in _FASTAPI_ONLY:
            continue
        if name in into and into[name] != schema:
            raise ValueError(f"two functions define different schemas named {name}")
        into[name] = schema


def _share_error_responses(paths: dict[str, Any]) -> dict[str, Any]:
    """Each distinct error response once, under components/responses, named by its status
    and what can answer it (`Status404_not-found_gateway`); operations refer to it."""
    shared: dict[str, Any] = {}
    for operations in paths.values():
        for operation in operations.values():
            for status, response in operation["responses"].items():
                if int(status) < 400:
                    continue
                content = response["content"]
                problem = content.get("application/problem+json", {}).get("schema", {})
                slugs = [
                    t.removeprefix("/problems/")
                    for t in problem.get("properties", {}).get("type", {}).get("enum", [])
                ]
                parts = ["gateway"] * ("application/json" in content) + slugs
                name = f"Status{status}_" + "_".join(parts)
                if shared.setdefault(name, response) != response:
                    raise ValueError(f"two different responses would be named {name}")
                operation["responses"][status] = {"$ref": f"#/components/responses/{name}"}
    return dict(sorted(shared.items()))


def combined_openapi() -> dict[str, Any]:
    from convoship_dev.handlers import load_handler
    from convoship_dev.openapi_routes import COMPONENTS
    from convoship_dev.template import load_template

    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for function in load_template(TEMPLATE).functions.values():
        if not function.routes:
            continue
        load_handler(function)  # imports the handler module, its CodeUri first on sys.path
        app = getattr(sys.modules[function.handler.rsplit(".", 1)[0]], "app", None)
        if app is None:
            continue  # not a JSON API function (the studio pages: static HTML)
        document = _operations(app)
        for path, operations in document.get("paths", {}).items():
            paths.setdefault(path, {}).update(operations)
        _merge_schemas(schemas, document.get("components", {}).get("schemas", {}))
    _merge_schemas(schemas, COMPONENTS["schemas"])
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ConvoShip agent controls",
            "version": "1.0.0",
            "description": _DESCRIPTION,
        },
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "responses": _share_error_responses(paths),
            "headers": COMPONENTS["headers"],
            "securitySchemes": {
                "studioJwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
        "paths": dict(sorted(paths.items())),
    }
