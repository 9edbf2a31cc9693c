"""Helpers for the publish and chat tests: agents with evals and tools, settings rows."""

from __future__ import annotations

from typing import Any

from tests.support.agents import SLUG, created
from tests.support.api_client import ApiClient, ApiResponse

BASE = f"/v1/ai-agents/{SLUG}"


def set_threshold(api: ApiClient, admin: str, threshold: float, rpm: int | None = None) -> None:
    body: dict[str, Any] = {"eval_pass_threshold": threshold}
    if rpm is not None:
        body["rpm_cap_per_agent"] = rpm
    response = api.patch("/v1/workspaces/agent-ops", token=admin, json=body)
    assert response.status == 200, response.text


def add_eval(api: ApiClient, editor: str, name: str, message: str, *assertions: Any) -> str:
    body = {
        "name": name,
        "input": message,
        "assertions": [{"type": t, "value": v} for t, v in assertions],
    }
    return str(created(api.post(f"{BASE}/evals", token=editor, json=body))["id"])


def publish(api: ApiClient, editor: str, note: str | None = None, slug: str = SLUG) -> ApiResponse:
    body = {"note": note} if note is not None else {}
    return api.post(f"/v1/ai-agents/{slug}/publish", token=editor, json=body)


def guardrail_id(api: ApiClient, token: str, kind: str) -> str:
    items = api.get(f"{BASE}/guardrails", token=token).json()["items"]
    return str(next(g["id"] for g in items if g["kind"] == kind))


def set_guardrail(api: ApiClient, editor: str, kind: str, **config: Any) -> None:
    gid = guardrail_id(api, editor, kind)
    current = api.get(f"{BASE}/guardrails/{gid}", token=editor).json()["config"]
    response = api.patch(
        f"{BASE}/guardrails/{gid}", token=editor, json={"config": {**current, **config}}
    )
    assert response.status == 200, response.text
