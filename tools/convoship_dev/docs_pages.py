"""The pages `convoship serve` adds beside the API: `/docs` (Swagger UI), `/openapi.json`
and `/` (a redirect to /docs). Development only: API Gateway serves none of them.

Swagger UI's files come from the `fastapi-offline` wheel (its static folder, nothing else of
it), so the page loads with no network. The document is built on the first request for it,
not at start: `convoship serve` starts as fast as before.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from convoship_dev.lambda_events import Headers

Response = tuple[int, Headers, bytes]

DOCS_PATH = "/docs"
OPENAPI_PATH = "/openapi.json"
_ASSET_TYPES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon.png": "image/png",
}


def _asset_folder() -> Path:
    spec = find_spec("fastapi_offline")  # located, not imported
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("fastapi-offline is not installed: run `make install`")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def _page() -> bytes:
    from fastapi.openapi.docs import get_swagger_ui_html

    html = get_swagger_ui_html(
        openapi_url=OPENAPI_PATH,
        title="ConvoShip API",
        swagger_js_url=f"{DOCS_PATH}/swagger-ui-bundle.js",
        swagger_css_url=f"{DOCS_PATH}/swagger-ui.css",
        swagger_favicon_url=f"{DOCS_PATH}/favicon.png",
        # No online validator badge (it would call out), and "Authorize" survives reloads.
        swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": True},
    )
    return bytes(html.body)


class DocsPages:
    """Answers GET /, /docs, its assets and /openapi.json; None for anything else."""

    def __init__(self, build_document: Callable[[], dict[str, Any]]) -> None:
        self._build_document = build_document
        self._document: bytes | None = None
        self._lock = threading.Lock()

    def _openapi(self) -> bytes:
        with self._lock:
            if self._document is None:
                self._document = json.dumps(self._build_document()).encode()
            return self._document

    def answer(self, method: str, path: str) -> Response | None:
        if method != "GET":
            return None
        if path == "/":
            return 307, [("location", DOCS_PATH)], b""
        if path in (DOCS_PATH, DOCS_PATH + "/"):
            return 200, [("content-type", "text/html; charset=utf-8")], _page()
        if path == OPENAPI_PATH:
            return 200, [("content-type", "application/json")], self._openapi()
        name = path.removeprefix(DOCS_PATH + "/")
        if path.startswith(DOCS_PATH + "/") and name in _ASSET_TYPES:
            body = (_asset_folder() / name).read_bytes()
            return 200, [("content-type", _ASSET_TYPES[name])], body
        return None
