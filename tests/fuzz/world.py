"""The workspace each fuzzed route starts from: one of everything, reachable by real ids,
and a valid body per write route for the fuzzer to start mutating from."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from convoship.security.visitor_tokens import sign
from tests.support.api_client import ApiClient, ApiResponse

SLUG = "support-bot"
MEMBERS = "members-bot"  # its embed needs a visitor token
VISITOR_SECRET = "visitor-secret-value-0123456789abcdef"
DEAD_URL = "http://127.0.0.1:9"  # nothing listens: tool and model calls there fail fast

AGENT_CONFIG = {"system_prompt": "You help.", "temperature": 0.5, "max_output_tokens": 200}
TOOL = {
    "name": "lookup",
    "description": "Find an order",
    "config": {
        "method": "POST",
        "url": DEAD_URL + "/orders/{{q}}",
        "headers": {"Authorization": "Bearer {{secret:API_KEY}}", "X-Q": "{{q}}"},
        "body": {"q": "{{q}}", "fixed": [1, 2]},
        "timeout_s": 2,
    },
    "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
}
EVAL = {
    "name": "greets",
    "input": "hello",
    "assertions": [{"type": "contains", "value": "echo"}, {"type": "regex", "value": "^echo"}],
}
CALL_THE_TOOL = 'call:lookup {"q": "A-1"}'

# "METHOD /path/template" -> a body the route accepts (in the world below).
VALID_BODIES: dict[str, Any] = {
    "POST /v1/ai-agent-drafts": {"data": {"step": 2, "name": "Draft", "tags": ["a"]}},
    "PATCH /v1/ai-agent-drafts/{id}": {"data": {"step": 3}},
    "POST /v1/ai-agents": {"name": "New bot", "description": "d", "config": AGENT_CONFIG},
    "PATCH /v1/ai-agents/{slug}": {"name": "Renamed", "config": AGENT_CONFIG},
    "POST /v1/ai-agents/{slug}/evals": {**EVAL, "name": "second"},
    "PATCH /v1/ai-agents/{slug}/evals/{id}": {"input": "hi there"},
    "POST /v1/ai-agents/{slug}/guardrails": {
        "kind": "ESCALATE",
        "config": {"keywords": ["human"], "message": "A person will answer."},
        "enabled": True,
    },
    "PATCH /v1/ai-agents/{slug}/guardrails/{id}": {"enabled": False},
    "POST /v1/ai-agents/{slug}/playground/chat": {"message": CALL_THE_TOOL},
    "POST /v1/ai-agents/{slug}/publish": {"note": "fuzz"},
    "POST /v1/ai-agents/{slug}/tools": {**TOOL, "name": "lookup_two"},
    "PATCH /v1/ai-agents/{slug}/tools/{id}": {"description": "d", "config": TOOL["config"]},
    "POST /v1/embed/{public_token}/chat": {"message": CALL_THE_TOOL},
    "POST /v1/secrets": {"name": "NEW_KEY", "value": "v"},
    "PATCH /v1/workspaces/agent-llm": {
        "provider": "openai_compatible",
        "model": "m",
        "base_url": DEAD_URL + "/v1",
        "api_key": "k-123456789",
    },
    "PATCH /v1/workspaces/agent-ops": {"rpm_cap_per_agent": 1000, "eval_pass_threshold": 0.5},
}


@dataclass(frozen=True)
class World:
    """A workspace with one of everything, and the credentials to reach it."""

    tokens: dict[str, str]  # role -> studio token
    path_values: dict[str, list[str]]  # path parameter, or "collection:id" -> real values
    visitor_tokens: list[str]

    def path_values_for(self, path: str, name: str) -> list[str]:
        key = f"{path.rsplit('/', 2)[-2]}:{name}" if name == "id" else name
        return self.path_values.get(key, ["x"])


def _ok(response: ApiResponse) -> dict[str, Any]:
    assert response.status in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


def build_world(api: ApiClient, tokens: dict[str, str]) -> World:
    """Two published agents (one behind visitor tokens), a tool, an eval, a draft, secrets
    and a conversation, made through the API itself."""
    owner = tokens["owner"]
    ops = {"rpm_cap_per_agent": 100000, "eval_pass_threshold": 0.5}
    _ok(api.patch("/v1/workspaces/agent-ops", token=owner, json=ops))
    _ok(
        api.post(
            "/v1/secrets",
            token=owner,
            json={"name": "API_KEY", "value": "s3cret", "allowed_hosts": ["127.0.0.1"]},
        )
    )
    _ok(api.post("/v1/secrets", token=owner, json={"name": "VISITOR", "value": VISITOR_SECRET}))
    agents = {
        slug: _ok(api.post("/v1/ai-agents", token=owner, json={"name": slug, "slug": slug}))
        for slug in (SLUG, MEMBERS)
    }
    tool = _ok(api.post(f"/v1/ai-agents/{SLUG}/tools", token=owner, json=TOOL))
    evals = [_ok(api.post(f"/v1/ai-agents/{s}/evals", token=owner, json=EVAL)) for s in agents]
    draft = _ok(api.post("/v1/ai-agent-drafts", token=owner, json={"data": {"step": 1}}))
    auth = next(g for g in agents[MEMBERS]["guardrails"] if g["kind"] == "AUTH")
    members_auth = {"allowed_origins": ["*"], "visitor_token_secret": "{{secret:VISITOR}}"}
    path = f"/v1/ai-agents/{MEMBERS}/guardrails/{auth['id']}"
    _ok(api.patch(path, token=owner, json={"config": members_auth}))
    for slug in agents:
        _ok(api.post(f"/v1/ai-agents/{slug}/publish", token=owner, json={}))
    chat = _ok(
        api.post(f"/v1/ai-agents/{SLUG}/playground/chat", token=owner, json={"message": "hello"})
    )
    return World(
        tokens=tokens,
        path_values={
            "slug": list(agents),
            "public_token": [agents[MEMBERS]["public_token"], agents[SLUG]["public_token"]],
            "name": ["API_KEY", "VISITOR"],
            "n": ["1"],
            "guardrails:id": [g["id"] for g in agents[SLUG]["guardrails"]],
            "tools:id": [tool["id"]],
            "evals:id": [evals[0]["id"]],
            "conversations:id": [chat["conversation_id"]],
            "ai-agent-drafts:id": [draft["id"]],
        },
        visitor_tokens=[
            sign({"sub": "visitor-1", "exp": 4102444800}, VISITOR_SECRET),
            sign({"sub": "visitor-1", "exp": 1}, VISITOR_SECRET),
            sign(
                {"sub": "\ud800", "exp": 10**400, "x": json.loads("[" * 50 + "]" * 50)},
                VISITOR_SECRET,
            ),
        ],
    )
