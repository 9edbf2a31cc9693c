"""Lambda entry point of the studio function: the Studio pages as static files.

Standard library only (no layer, no VPC): the pages hold no data. The HTML shell is public;
its script asks for the studio token, keeps it in the tab's sessionStorage and sends it to
the API as the bearer header. Every answer carries a strict Content-Security-Policy: only
this origin's own script and style, no inline script, nothing framed.
"""

from __future__ import annotations

import json
import uuid
from functools import cache
from importlib import resources
from typing import Any

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self';"
    " img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
# route key -> how the file is chosen; assets by exact name only (no paths)
PAGES = {"GET /app/agents/{slug}/audit": "audit.html"}
ASSETS = {
    "audit.js": "text/javascript; charset=utf-8",
    "audit.css": "text/css; charset=utf-8",
}


@cache
def _read(name: str) -> str:
    return (resources.files(__package__) / "static" / name).read_text(encoding="utf-8")


def _headers(content_type: str, request_id: str, cache_control: str) -> dict[str, str]:
    return {
        "content-type": content_type,
        "content-security-policy": CSP,
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
        "referrer-policy": "no-referrer",
        "cache-control": cache_control,
        "x-request-id": request_id,
    }


def _not_found(request_id: str) -> dict[str, Any]:
    body = {"type": "/problems/not-found", "title": "Not found", "status": 404}
    return {
        "statusCode": 404,
        "headers": _headers("application/problem+json", request_id, "no-store"),
        "body": json.dumps(body),
    }


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request_id = str(getattr(context, "aws_request_id", "") or uuid.uuid4())
    route = str(event.get("routeKey", ""))
    params = event.get("pathParameters") or {}
    if route in PAGES:
        slug = str(params.get("slug", ""))
        if not slug or "/" in slug:
            return _not_found(request_id)
        return {
            "statusCode": 200,
            "headers": _headers("text/html; charset=utf-8", request_id, "no-store"),
            "body": _read(PAGES[route]),
        }
    asset = str(params.get("asset", ""))
    if route == "GET /app/static/{asset}" and asset in ASSETS:
        return {
            "statusCode": 200,
            "headers": _headers(ASSETS[asset], request_id, "public, max-age=300"),
            "body": _read(asset),
        }
    return _not_found(request_id)
