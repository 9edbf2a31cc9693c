"""Unknown query parameters are 422 on every route (API.md): a client sending next_cursor
back instead of cursor must not silently get page 1 again."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from convoship_dev.openapi import combined_openapi

DOCUMENT = combined_openapi()
OPERATIONS = sorted(
    (method.upper(), path)
    for path, operations in DOCUMENT["paths"].items()
    for method in operations
)
PATH_VALUES = {"slug": "support-bot", "name": "API_KEY", "n": "1", "public_token": "tok-12345678"}


def _declared(method: str, path: str) -> set[str]:
    operation = DOCUMENT["paths"][path][method.lower()]
    return {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}


def _concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES.get(m[1], str(uuid.uuid4())), path)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_every_route_refuses_an_unknown_query_parameter(
    api: Any, workspace: uuid.UUID, token: Callable[..., str], method: str, path: str
) -> None:
    response = api.request(
        method, _concrete(path) + "?limit=5&bogus=1", token=token(workspace, "owner"), json={}
    )
    assert response.status == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "/problems/validation"
    locs = [e["loc"] for e in problem["errors"]]
    assert ["query", "bogus"] in locs
    assert (["query", "limit"] in locs) is ("limit" not in _declared(method, path))


def test_next_cursor_sent_back_is_refused_with_the_fix(
    api: Any, workspace: uuid.UUID, token: Callable[..., str]
) -> None:
    owner = token(workspace, "owner")
    assert api.get("/v1/audit-log?limit=1", token=owner).status == 200
    response = api.get("/v1/audit-log?limit=1&next_cursor=abc", token=owner)
    assert response.status == 422
    (error,) = response.json()["errors"]
    assert error["loc"] == ["query", "next_cursor"]
    assert "as cursor" in error["msg"]


def test_declared_parameters_and_an_empty_query_string_still_work(
    api: Any, workspace: uuid.UUID, token: Callable[..., str]
) -> None:
    owner = token(workspace, "owner")
    assert api.get("/v1/audit-log?limit=2&action=x&action=y", token=owner).status == 200
    assert api.get("/v1/workspaces/agent-ops?", token=owner).status == 200
    refused = api.get("/v1/workspaces/agent-ops?limit=1", token=owner)
    assert refused.status == 422
    assert refused.json()["errors"][0]["msg"] == "unknown query parameter (this route takes: none)"


def test_a_nul_in_a_query_value_is_the_422_that_names_it(
    api: Any, workspace: uuid.UUID, token: Callable[..., str]
) -> None:
    """It reached the database, whose refusal was reported as a value of the body (an attack
    review's find)."""
    owner = token(workspace, "owner")
    response = api.get("/v1/audit-log?action=x%00y&resource_type=ok", token=owner)
    assert response.status == 422, response.text
    assert response.json()["errors"] == [
        {"loc": ["query", "action"], "msg": "contains a NUL character"}
    ]


@pytest.mark.parametrize("path", ["/v1/ai-agents/%00", "/v1/ai-agents/a%00b/tools"])
def test_a_nul_in_a_path_parameter_names_nothing(
    api: Any, workspace: uuid.UUID, token: Callable[..., str], path: str
) -> None:
    response = api.get(path, token=token(workspace, "owner"))
    assert response.status == 404, response.text
    assert response.json()["type"] == "/problems/not-found"
