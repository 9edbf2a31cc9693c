"""What each route can answer, derived from the route itself, as OpenAPI.

Facts read from a FastAPI route: whether it needs the studio bearer (its dependencies
include `request_context`, so API Gateway's authorizer runs first), the role it requires,
whether it has path parameters, whether it writes (`workspace_tx`), and the domain errors
route_errors.py declares. Each fact adds the answers it makes possible, nothing more: every
error is the shared problem schema under application/problem+json (with its possible
`type`s and `status`), or API Gateway's own `{"message"}` JSON where the gateway answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastapi.routing import APIRoute

from convoship.core.roles import RANK
from convoship.http import deps
from convoship.http.problems import PROBLEM_JSON, problem_for
from convoship_dev.route_errors import DOMAIN_ERRORS, ConvoshipErrors

GATEWAY_JSON = "application/json"
STUDIO_SECURITY = [{"studioJwt": []}]
_GATEWAY_MESSAGES = {
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
}
_RETRY_AFTER = {"rate-limited", "budget-exceeded", "service-unavailable", "llm-not-configured"}
_SLUG_DESCRIPTIONS = {
    "forbidden": "the caller's role is too low for this route",
    "not-found": "no such resource in the caller's workspace (or a path value holding `/`)",
    "conflict": "the change conflicts with the current state or with a concurrent change",
    "validation": "the request does not match the schema, names a query parameter the route"
    " does not take, or breaks a rule of the resource",
    "service-unavailable": "a dependency (the database) is down: retry after Retry-After",
    "payload-too-large": "over the size limit of the resource",
    "rate-limited": "over the agent's requests per minute: retry after Retry-After",
    "budget-exceeded": "over a token budget of the BUDGET guardrail",
    "eval-gate-failed": "the draft's eval pass rate is below the workspace threshold",
    "origin-not-allowed": "the browser Origin is not in the AUTH guardrail's allowed_origins",
    "llm-not-configured": "no model is configured for the workspace or the platform",
    "upstream-unavailable": "the model provider failed or sent something unreadable",
    "unauthorized": "the agent wants a visitor token (X-Visitor-Token) and got none or a bad one",
}
_GATEWAY_DESCRIPTIONS = {
    401: "API Gateway's authorizer: no Authorization header",
    403: "API Gateway's authorizer: the bearer token is not valid or has expired",
    404: "API Gateway: the path routes nowhere (an empty path segment)",
    429: "API Gateway's throttling of the stage",
}


@dataclass(frozen=True)
class RouteFacts:
    key: str  # "METHOD /path", as template.yaml and API.md name routes
    studio: bool
    minimum_role: str | None
    path_parameters: bool
    writes: bool
    raises: ConvoshipErrors


@dataclass(frozen=True)
class Answer:
    status: int
    slug: str | None  # a problem's slug; None: API Gateway's own {"message"} answer
    description: str


def _dependencies(route: APIRoute) -> Iterator[Any]:
    todo = list(route.dependant.dependencies)
    while todo:
        current = todo.pop()
        yield current
        todo.extend(current.dependencies)


def facts_of(route: APIRoute, method: str) -> RouteFacts:
    calls = [d.call for d in _dependencies(route)]
    roles = [
        name.removeprefix("require_")
        for name in (getattr(c, "__name__", "") for c in calls)
        if name.removeprefix("require_") in RANK and name.startswith("require_")
    ]
    key = f"{method} {route.path}"
    return RouteFacts(
        key=key,
        studio=deps.request_context in calls,
        minimum_role=max(roles, key=RANK.__getitem__) if roles else None,
        path_parameters=bool(route.dependant.path_params),
        writes=deps.workspace_tx in calls,
        raises=DOMAIN_ERRORS.get(key, ()),
    )


def answers(facts: RouteFacts) -> list[Answer]:
    """Every way this route can fail, one fact at a time."""
    out: list[Answer] = []

    def problem(status: int, slug: str) -> None:
        out.append(Answer(status, slug, _SLUG_DESCRIPTIONS[slug]))

    def gateway(status: int) -> None:
        out.append(Answer(status, None, _GATEWAY_DESCRIPTIONS[status]))

    if facts.studio:
        gateway(401)
        gateway(403)
    if facts.minimum_role is not None and RANK[facts.minimum_role] > RANK["viewer"]:
        problem(403, "forbidden")
    if facts.path_parameters:
        problem(404, "not-found")
        gateway(404)
    if facts.writes:
        problem(409, "conflict")
    problem(422, "validation")
    gateway(429)
    problem(503, "service-unavailable")
    for error in facts.raises:
        status, slug, _ = problem_for(error)
        problem(status, slug)
    return out


def _problem_schema(status: int, slugs: list[str]) -> dict[str, Any]:
    return {
        "allOf": [{"$ref": "#/components/schemas/Problem"}],
        "properties": {
            "type": {"enum": [f"/problems/{slug}" for slug in slugs]},
            "status": {"const": status},
        },
    }


def _gateway_schema(status: int) -> dict[str, Any]:
    return {
        "allOf": [{"$ref": "#/components/schemas/GatewayMessage"}],
        "properties": {"message": {"const": _GATEWAY_MESSAGES[status]}},
    }


def error_responses(facts: RouteFacts, declared: dict[str, Any]) -> dict[str, Any]:
    """The responses object entries of every error status the route can answer.

    `declared` holds the error statuses the route itself names with FastAPI's
    `responses=`: one that no fact produces is an error (declare it in route_errors.py)."""
    by_status: dict[int, list[Answer]] = {}
    for answer in answers(facts):
        found = by_status.setdefault(answer.status, [])
        if answer not in found:
            found.append(answer)
    unknown = {int(s) for s in declared if int(s) >= 400} - set(by_status)
    if unknown:
        raise ValueError(f"{facts.key} declares {sorted(unknown)}: add them to route_errors.py")
    out: dict[str, Any] = {}
    for status, found in sorted(by_status.items()):
        slugs = [a.slug for a in found if a.slug is not None]
        content: dict[str, Any] = {}
        if slugs:
            content[PROBLEM_JSON] = {"schema": _problem_schema(status, slugs)}
        if any(a.slug is None for a in found):
            content[GATEWAY_JSON] = {"schema": _gateway_schema(status)}
        lines = [f"`{a.slug}`: {a.description}" if a.slug else a.description for a in found]
        response: dict[str, Any] = {
            "description": "\n".join(f"- {line}" for line in lines),
            "content": content,
        }
        if _RETRY_AFTER & set(slugs):
            response["headers"] = {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}}
        out[str(status)] = response
    return out


COMPONENTS: dict[str, Any] = {
    "schemas": {
        "Problem": {
            "title": "Problem",
            "description": "RFC 9457 problem details; extension members vary by type",
            "type": "object",
            "required": ["type", "title", "status"],
            "properties": {
                "type": {"type": "string", "pattern": "^/problems/[a-z-]+$"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "errors": {
                    "type": "array",
                    "description": "validation only: where and what",
                    "items": {"$ref": "#/components/schemas/ProblemError"},
                },
            },
        },
        "ProblemError": {
            "title": "ProblemError",
            "type": "object",
            "required": ["loc", "msg"],
            "properties": {
                "loc": {
                    "type": "array",
                    "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                },
                "msg": {"type": "string"},
            },
        },
        "GatewayMessage": {
            "title": "GatewayMessage",
            "description": "API Gateway's own answer (HTTP APIs cannot reshape it)",
            "type": "object",
            "required": ["message"],
            "properties": {"message": {"type": "string"}},
            "additionalProperties": False,
        },
    },
    "headers": {
        "RetryAfter": {
            "description": "seconds to wait before trying again",
            "schema": {"type": "string", "pattern": "^[0-9]+$"},
        }
    },
}
