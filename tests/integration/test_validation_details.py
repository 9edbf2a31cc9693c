"""A 422 says which kind of refusal it is: the request does not match the schema the
OpenAPI document publishes, or a value breaks a rule no schema spells (a model's own
validator). A body too deeply nested for the JSON parser is a 422 like any other."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from convoship.http.problems import RULE_BROKEN, SCHEMA_MISMATCH


def test_schema_mismatch_and_broken_rule_are_told_apart(
    api: Any, workspace: uuid.UUID, token: Callable[..., str]
) -> None:
    owner = token(workspace, "owner")
    wrong_type = api.patch("/v1/workspaces/agent-ops", token=owner, json={"rpm_cap_per_agent": "9"})
    assert wrong_type.status == 422 and wrong_type.json()["detail"] == SCHEMA_MISMATCH
    assert api.post("/v1/secrets", token=owner, json={"name": "K", "value": "v"}).status == 201
    bad_host = api.patch("/v1/secrets/K", token=owner, json={"allowed_hosts": ["0"]})
    assert bad_host.status == 422, bad_host.text
    assert bad_host.json()["detail"] == RULE_BROKEN
    assert bad_host.json()["errors"][0]["loc"] == ["body", "allowed_hosts"]


def test_a_body_nested_past_the_parser_is_422(
    api: Any, workspace: uuid.UUID, token: Callable[..., str]
) -> None:
    response = api.post(
        "/v1/ai-agents",
        token=token(workspace, "owner"),
        data=b"[" * 100_000,
        content_type="application/json",
    )
    assert response.status == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"] == [{"loc": ["body"], "msg": "body cannot be parsed as JSON"}]
