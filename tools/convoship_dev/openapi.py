"""One OpenAPI document for the whole HTTP API, merged from every function's FastAPI app."""

from __future__ import annotations

import sys
from typing import Any

from convoship_dev.services import PROJECT_ROOT

TEMPLATE = PROJECT_ROOT / "template.yaml"


def combined_openapi() -> dict[str, Any]:
    from convoship_dev.handlers import load_handler
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
        document = app.openapi()
        for path, operations in document.get("paths", {}).items():
            paths.setdefault(path, {}).update(operations)
        schemas.update(document.get("components", {}).get("schemas", {}))
    return {
        "openapi": "3.1.0",
        "info": {"title": "ConvoShip agent controls", "version": "1.0.0"},
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "studioJwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
        "security": [{"studioJwt": []}],
        "paths": dict(sorted(paths.items())),
    }
