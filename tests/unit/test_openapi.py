"""openapi.json at the root is the merged OpenAPI of every function, kept in step with code."""

from __future__ import annotations

import json
from pathlib import Path

from convoship_dev.openapi import combined_openapi
from convoship_dev.template import load_template

ROOT = Path(__file__).resolve().parents[2]


def test_committed_openapi_matches_the_code() -> None:
    committed = json.loads((ROOT / "openapi.json").read_text())
    assert committed == json.loads(json.dumps(combined_openapi())), "run `make openapi`"


def test_every_template_route_is_documented_and_vice_versa() -> None:
    document = combined_openapi()
    documented = {(m.upper(), p) for p, ops in document["paths"].items() for m in ops}
    declared = {
        (route.method, route.path)
        for function in load_template(ROOT / "template.yaml").functions.values()
        for route in function.routes
        if route.path.startswith("/v1/")  # /app/...: the Studio pages, HTML
    }
    assert documented == declared


def test_every_operation_has_a_summary_line() -> None:
    for path, operations in combined_openapi()["paths"].items():
        for method, operation in operations.items():
            assert operation.get("description"), f"{method.upper()} {path} has no docstring"
