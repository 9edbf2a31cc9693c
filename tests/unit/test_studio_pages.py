"""The studio function serves its own files only, each with the strict CSP."""

from __future__ import annotations

import json
from pathlib import Path

from convoship_dev.handlers import load_handler
from convoship_dev.lambda_events import LambdaContext
from convoship_dev.template import load_template

ROOT = Path(__file__).resolve().parents[2]
STUDIO = load_template(ROOT / "template.yaml").find_function("studio")


def invoke(route: str, **params: str) -> dict[str, object]:
    event = {"routeKey": route, "pathParameters": params}
    result: dict[str, object] = load_handler(STUDIO)(event, LambdaContext(STUDIO))
    return result


def test_page_and_assets_carry_a_strict_policy() -> None:
    for result in (
        invoke("GET /app/agents/{slug}/audit", slug="support-bot"),
        invoke("GET /app/static/{asset}", asset="audit.js"),
        invoke("GET /app/static/{asset}", asset="audit.css"),
    ):
        headers = result["headers"]
        assert result["statusCode"] == 200 and isinstance(headers, dict)
        assert "script-src 'self'" in headers["content-security-policy"]
        assert "unsafe" not in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff" and headers["x-request-id"]
    js = invoke("GET /app/static/{asset}", asset="audit.js")
    assert "innerHTML" not in str(js["body"]) and "localStorage" not in str(js["body"])


def test_nothing_else_is_served() -> None:
    for asset in ("../handler.py", "handler.py", "audit.html", "", "%2e%2e"):
        result = invoke("GET /app/static/{asset}", asset=asset)
        assert result["statusCode"] == 404
        assert json.loads(str(result["body"]))["type"] == "/problems/not-found"
    assert invoke("GET /app/agents/{slug}/audit", slug="")["statusCode"] == 404
