"""What `convoship serve` adds for a developer: /docs (Swagger UI, every asset served by the
runner itself, nothing from a CDN), /openapi.json, / (to /docs), one log line per request,
and HTTP answers shaped as API Gateway's (no content-type on a 204)."""

from __future__ import annotations

import json
import re
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlsplit

from tests.support.local_runner import Served, http, run_cli

ROOT = Path(__file__).resolve().parents[2]
ASSET_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


def _get(base: str, path: str) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(base)
    conn = HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        headers = {k.lower(): v for k, v in response.getheaders()}
        return response.status, headers, response.read()
    finally:
        conn.close()


def test_docs_page_loads_with_every_asset_from_the_runner(served: str) -> None:
    status, headers, page = _get(served, "/docs")
    assert status == 200 and headers["content-type"].startswith("text/html")
    html = page.decode()
    assert "SwaggerUIBundle" in html and "url: '/openapi.json'" in html
    assert not re.search(r"https?://", html)  # nothing to fetch from elsewhere: works offline
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert len(assets) == 3, assets  # the bundle, its stylesheet, the icon
    for asset in assets:
        assert asset.startswith("/") and not asset.startswith("//"), asset
        status, headers, body = _get(served, asset)
        assert status == 200, asset
        assert headers["content-type"].startswith(ASSET_TYPES[Path(asset).suffix]), asset
        assert len(body) > 1000, asset
    status, headers, document = _get(served, "/openapi.json")
    assert status == 200 and headers["content-type"] == "application/json"
    assert json.loads(document) == json.loads((ROOT / "openapi.json").read_text())


def test_the_root_leads_to_the_docs(served: str) -> None:
    status, headers, body = _get(served, "/")
    assert status == 307 and headers["location"] == "/docs" and body == b""


def test_one_log_line_per_request(served_api: Served, cli_env: dict[str, str]) -> None:
    token = json.loads(run_cli(cli_env, "workspace", "create", "Logged").stdout)["token"]
    for _ in range(3):
        assert http("GET", f"{served_api.url}/v1/workspaces/agent-ops", token)[0] == 200
    assert http("GET", f"{served_api.url}/v1/secrets?bogus=1", token)[0] == 422
    stdout, stderr = served_api.output()
    lines = (stdout + stderr).splitlines()
    # The runner's line and the app's JSON access line (`"route": "GET /v1/..."`) both name
    # the route this way: one of them is muted in development.
    assert len([line for line in lines if "GET /v1/workspaces/agent-ops" in line]) == 3, lines
    assert len([line for line in lines if "GET /v1/secrets" in line]) == 1, lines


def test_a_204_over_http_has_no_content_type(served: str, cli_env: dict[str, str]) -> None:
    token = json.loads(run_cli(cli_env, "workspace", "create", "No content").stdout)["token"]
    secret = {"name": "GONE", "value": "v"}
    assert http("POST", f"{served}/v1/secrets", token, secret)[0] == 201
    status, headers, body = http("DELETE", f"{served}/v1/secrets/GONE", token)
    assert status == 204 and body is None
    assert "content-type" not in headers and "content-length" not in headers  # RFC 9110


def test_the_banner_gives_the_docs_url_next_to_the_token(served_api: Served) -> None:
    lines = served_api.output()[0].splitlines()
    token_at = next(i for i, line in enumerate(lines) if line.startswith("export T="))
    docs_at = next(i for i, line in enumerate(lines) if line.startswith("API docs: "))
    assert 0 < docs_at - token_at <= 2, lines
    assert f"{served_api.url}/docs" in lines[docs_at] and "Authorize with $T" in lines[docs_at]
