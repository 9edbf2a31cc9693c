"""What the Lambda handler returns, as API Gateway, `sam local` and logs see it: problem
bodies as readable text (not base64), and no content-type on a 204."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from convoship_dev.handlers import load_handler
from convoship_dev.lambda_events import LambdaContext
from convoship_dev.template import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")


def _invoke(event: dict[str, Any]) -> dict[str, Any]:
    function = TEMPLATE.find_function("workspace_settings")
    result: dict[str, Any] = load_handler(function)(event, LambdaContext(function))
    return result


def _event(name: str, workspace: uuid.UUID, **changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((ROOT / "events/workspace_settings" / name).read_text())
    event["requestContext"]["authorizer"]["lambda"]["workspace_id"] = str(workspace)
    event.update(changes)
    return event


def test_a_problem_body_is_readable_text(workspace: uuid.UUID) -> None:
    event = _event("patch_agent_ops.json", workspace, body='{"eval_pass_threshold": 1.5}')
    result = _invoke(event)
    assert result["statusCode"] == 422
    assert result["isBase64Encoded"] is False
    assert result["headers"]["content-type"] == "application/problem+json"
    assert json.loads(result["body"])["errors"][0]["loc"] == ["body", "eval_pass_threshold"]


def test_a_204_carries_no_content_type(
    api: Any, workspace: uuid.UUID, token: Callable[..., str]
) -> None:
    owner = token(workspace, "owner")
    assert api.post("/v1/secrets", token=owner, json={"name": "K", "value": "v"}).status == 201
    event = _event("delete_secret.json", workspace, rawPath="/v1/secrets/K")
    event["pathParameters"] = {"name": "K"}
    event["requestContext"]["http"]["path"] = "/v1/secrets/K"
    result = _invoke(event)
    assert result["statusCode"] == 204
    assert "content-type" not in {k.lower() for k in result.get("headers", {})}
    assert not result.get("body")
    assert result["headers"]["x-request-id"]


def test_a_trailing_slash_the_gateway_routes_is_served_not_redirected(
    api: Any, workspace: uuid.UUID, token: Callable[..., str]
) -> None:
    owner = token(workspace, "owner")
    for path in ("/v1/ai-agents/", "/v1/workspaces/agent-ops/", "/v1/audit-log/?limit=1"):
        response = api.get(path, token=owner)
        assert response.status == 200, (path, response.status, response.headers)
