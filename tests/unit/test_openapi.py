"""openapi.json at the root is the merged OpenAPI of every function, kept in step with code,
and it tells the truth: per route the security it has, every error it can answer as a
problem (or API Gateway's own message), request schemas that match what the server takes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from convoship.core import errors
from convoship_dev.openapi import combined_openapi
from convoship_dev.openapi_routes import RouteFacts, error_responses
from convoship_dev.route_errors import DOMAIN_ERRORS
from convoship_dev.template import load_template

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = combined_openapi()
OPERATIONS = {
    f"{method.upper()} {path}": operation
    for path, operations in DOCUMENT["paths"].items()
    for method, operation in operations.items()
}
PUBLIC = {"GET /v1/embed/{public_token}", "POST /v1/embed/{public_token}/chat"}


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = DOCUMENT["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _response(operation: dict[str, Any], status: int | str) -> dict[str, Any]:
    response: dict[str, Any] = operation["responses"].get(str(status), {})
    if "$ref" in response:
        response = DOCUMENT["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
    return response


def _problem_types(operation: dict[str, Any], status: int) -> list[str]:
    content = _response(operation, status).get("content", {})
    schema = content.get("application/problem+json", {}).get("schema", {})
    return list(schema.get("properties", {}).get("type", {}).get("enum", []))


def test_committed_openapi_matches_the_code() -> None:
    committed = json.loads((ROOT / "openapi.json").read_text())
    assert committed == json.loads(json.dumps(DOCUMENT)), "run `make openapi`"


def test_every_template_route_is_documented_and_vice_versa() -> None:
    declared = {
        f"{route.method} {route.path}"
        for function in load_template(ROOT / "template.yaml").functions.values()
        for route in function.routes
        if route.path.startswith("/v1/")  # /app/...: the Studio pages, HTML
    }
    assert set(OPERATIONS) == declared


def test_every_operation_has_a_summary_line() -> None:
    for key, operation in OPERATIONS.items():
        assert operation.get("description"), f"{key} has no docstring"


def test_each_route_declares_the_security_it_really_has() -> None:
    assert "security" not in DOCUMENT  # no global default for the public routes to inherit
    for key, operation in OPERATIONS.items():
        expected: list[Any] = [] if key in PUBLIC else [{"studioJwt": []}]
        assert operation["security"] == expected, key
    for key in PUBLIC:
        assert not {"401", "403"} & set(OPERATIONS[key]["responses"]) or key.endswith("/chat")
        assert "application/json" not in _response(OPERATIONS[key], 401).get("content", {})


def test_errors_are_problems_or_the_gateways_own_message() -> None:
    text = json.dumps(DOCUMENT)
    assert "HTTPValidationError" not in text
    for key, operation in OPERATIONS.items():
        for status in operation["responses"]:
            if int(status) < 400:
                continue
            content = _response(operation, status)["content"]
            assert set(content) <= {"application/problem+json", "application/json"}, key
            if "application/json" in content:  # only where API Gateway itself answers
                assert status in {"401", "403", "404", "429"}, (key, status)
            assert int(status) != 500, key


def test_statuses_follow_from_the_route() -> None:
    agent_ops = OPERATIONS["GET /v1/workspaces/agent-ops"]["responses"]
    assert set(agent_ops) == {"200", "401", "403", "422", "429", "503"}
    viewers_may_read = _response(OPERATIONS["GET /v1/workspaces/agent-ops"], 403)["content"]
    assert "application/problem+json" not in viewers_may_read
    patch_ops = OPERATIONS["PATCH /v1/workspaces/agent-ops"]
    assert _problem_types(patch_ops, 403) == ["/problems/forbidden"]  # admin and up
    assert _problem_types(patch_ops, 409) == ["/problems/conflict"]  # writes
    assert "404" not in patch_ops["responses"]  # no path parameter, nothing to look up
    profile = OPERATIONS["GET /v1/embed/{public_token}"]["responses"]
    assert set(profile) == {"200", "404", "422", "429", "503"}
    chat = OPERATIONS["POST /v1/embed/{public_token}/chat"]
    assert _problem_types(chat, 429) == ["/problems/rate-limited", "/problems/budget-exceeded"]
    assert _problem_types(chat, 503) == [
        "/problems/service-unavailable",
        "/problems/llm-not-configured",
    ]
    assert "Retry-After" in _response(chat, 429)["headers"]
    for operation in OPERATIONS.values():
        assert _problem_types(operation, 422)[0] == "/problems/validation"  # query guard


def test_error_responses_are_shared_by_reference() -> None:
    shared = DOCUMENT["components"]["responses"]
    used = {
        response["$ref"].rsplit("/", 1)[-1]
        for operation in OPERATIONS.values()
        for status, response in operation["responses"].items()
        if int(status) >= 400
    }
    assert used == set(shared)  # every error response is a reference, and each is used


def test_declared_domain_errors_name_real_routes() -> None:
    assert set(DOMAIN_ERRORS) <= set(OPERATIONS)


def test_a_status_declared_on_a_route_but_derived_from_nothing_is_refused() -> None:
    facts = RouteFacts("GET /x", False, None, False, False, (errors.Conflict,))
    assert "409" in error_responses(facts, {"409": {"description": "taken"}})
    with pytest.raises(ValueError, match=r"route_errors\.py"):
        error_responses(facts, {"418": {"description": "a teapot"}})


@pytest.mark.parametrize("key", sorted(k for k in OPERATIONS if k.startswith("PATCH ")))
def test_partial_updates_document_that_an_empty_body_is_refused(key: str) -> None:
    body = OPERATIONS[key]["requestBody"]["content"]["application/json"]["schema"]
    schema = _resolve(body)
    assert schema.get("minProperties") == 1 or schema.get("required"), key
    assert schema["additionalProperties"] is False, key
