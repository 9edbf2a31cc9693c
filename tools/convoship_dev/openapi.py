"""One OpenAPI document for the whole HTTP API, merged from every function's FastAPI app."""

from __future__ import annotations

import importlib
import sys
from typing import Any

from convoship_dev.services import PROJECT_ROOT

TEMPLATE = PROJECT_ROOT / "template.yaml"


def combined_openapi() -> dict[str, Any]:
    from convoship_dev.template import load_template

    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for function in load_template(TEMPLATE).functions.values():
        if not function.routes:
            continue
        module_name = function.handler.rsplit(".", 1)[0]
        if str(function.code_uri) not in sys.path:
            sys.path.insert(0, str(function.code_uri))
        app = importlib.import_module(module_name).app
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
