"""API Gateway hands a function the path decoded once, as it decodes pathParameters; Mangum
decoded it a second time, so what the route matched was not what the checks on
pathParameters had seen (an attack review's find): `%2500` reached the database as a NUL
(its refusal blamed on the body), `%252F` became a slash (another route answered, logged as
the one the gateway matched), and a doubled trailing slash was a 307 that keeps the method."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.agents import SLUG, Token, create_agent, problem_of
from tests.support.api_client import ApiClient


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/ai-agents/%2500"),
        ("DELETE", "/v1/ai-agents/%2500"),
        ("GET", "/v1/ai-agents/%2500/tools"),
        ("DELETE", "/v1/secrets/%2500"),
        ("GET", f"/v1/ai-agents/{SLUG}%252Ftools"),  # the tools list answered
        ("GET", "/v1/ai-agents/%252F"),  # a 307 to /v1/ai-agents
        ("GET", f"/v1/ai-agents/{SLUG}%252F%252F"),
        ("DELETE", "/v1/secrets/x%252F%252F"),  # a 307 to DELETE /v1/secrets/x
    ],
)
def test_a_path_encoded_twice_names_what_it_spells(
    api: ApiClient, token: Token, workspace: Any, method: str, path: str
) -> None:
    create_agent(api, token(workspace, "editor"), slug=SLUG)
    response = api.request(method, path, token=token(workspace, "owner"))
    problem_of(response, 404, "not-found")


def test_a_trailing_slash_is_still_served(api: ApiClient, token: Token, workspace: Any) -> None:
    create_agent(api, token(workspace, "editor"), slug=SLUG)
    response = api.get(f"/v1/ai-agents/{SLUG}/", token=token(workspace, "owner"))
    assert response.status == 200, response.text
    assert response.json()["slug"] == SLUG
