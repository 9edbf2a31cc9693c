"""What a client sends back to a paged search, hostile or odd, is a 4xx that names it or an
answer, never a 500 (an attack review's finds: a cursor whose id is a number reached
`UUID(5)`, a 500 on every paged route; an offset past PostgreSQL's 15:59 in `since` was
the database's refusal, reported as a value in the body)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.support.agents import SLUG, Token, create_agent, problem_of
from tests.support.api_client import ApiClient
from tests.support.publishing import BASE


def _cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize("path", ["/v1/audit-log", f"{BASE}/conversations", f"{BASE}/audit-events"])
@pytest.mark.parametrize(
    "cursor",
    [
        _cursor(["2026-01-01T00:00:00", 5]),
        _cursor(["2026-01-01T00:00:00", {}]),
        _cursor(["0001-01-01T00:00:00+23:59", "6f1c1b8e-9c2f-4b5a-8d3e-2f1a0b9c8d7e"]),
    ],
    ids=["numeric id", "object id", "year 0 in UTC"],
)
def test_a_hostile_cursor_is_the_422_on_cursor(
    api: ApiClient, token: Token, workspace: Any, path: str, cursor: str
) -> None:
    create_agent(api, token(workspace, "editor"), slug=SLUG)
    response = api.get(f"{path}?cursor={cursor}", token=token(workspace, "owner"))
    assert problem_of(response, 422, "validation")["errors"] == [
        {"loc": ["query", "cursor"], "msg": "cursor is not valid"}
    ]


def test_a_cursor_with_a_far_offset_pages_as_its_time_in_utc(
    api: ApiClient, token: Token, workspace: Any
) -> None:
    cursor = _cursor(["2030-01-01T00:00:00-23:59", "6f1c1b8e-9c2f-4b5a-8d3e-2f1a0b9c8d7e"])
    response = api.get(f"/v1/audit-log?cursor={cursor}", token=token(workspace, "owner"))
    assert response.status == 200, response.text


@pytest.mark.parametrize("name", ["since", "until"])
def test_since_and_until_take_any_offset_and_refuse_a_time_out_of_range(
    api: ApiClient, token: Token, workspace: Any, name: str
) -> None:
    owner = token(workspace, "owner")
    far = api.get(f"/v1/audit-log?{name}=1970-01-01T00:00:00.000001-23:59", token=owner)
    assert far.status == 200, far.text
    out = api.get(f"/v1/audit-log?{name}=0001-01-01T00:00:00%2B23:59", token=owner)
    assert problem_of(out, 422, "validation")["errors"] == [
        {"loc": ["query", name], "msg": "the time is out of range in UTC"}
    ]
