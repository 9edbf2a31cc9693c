"""The domain errors a route raises beyond what its shape already says.

The OpenAPI builder (openapi_routes.py) derives most error answers from facts of each
route: a studio bearer (401/403 from the authorizer), a role above viewer (403 forbidden),
path parameters (404), the write transaction (409 on a concurrent change), and on every
route 422 (validation, unknown query parameters) and 503 (a dependency is down). What a
route's logic raises on purpose is declared here, as the domain exceptions of
convoship/core/errors.py: http/problems.py alone says which status and slug each becomes.
The property test against `convoship serve` fails on any answer this leaves undocumented.
"""

from __future__ import annotations

from convoship.core import errors

ConvoshipErrors = tuple[type[errors.ConvoshipError], ...]

_A_TURN: ConvoshipErrors = (
    errors.PayloadTooLarge,  # LIMIT max_input_chars
    errors.RateLimited,
    errors.BudgetExceeded,
    errors.LlmNotConfigured,
    errors.UpstreamUnavailable,
)

DOMAIN_ERRORS: dict[str, ConvoshipErrors] = {
    "POST /v1/ai-agents": (errors.Conflict,),  # the slug is taken
    "POST /v1/ai-agents/{slug}/guardrails": (errors.Conflict,),  # one guardrail per kind
    "PATCH /v1/ai-agents/{slug}/guardrails/{id}": (errors.Conflict,),
    "POST /v1/ai-agents/{slug}/tools": (errors.Conflict,),  # the tool name is taken
    "PATCH /v1/ai-agents/{slug}/tools/{id}": (errors.Conflict,),
    "POST /v1/ai-agent-drafts": (errors.PayloadTooLarge,),  # drafts hold 256 KiB
    "PATCH /v1/ai-agent-drafts/{id}": (errors.PayloadTooLarge,),
    "POST /v1/secrets": (errors.Conflict,),  # narrowing allowed_hosts under a tool
    "PATCH /v1/secrets/{name}": (errors.Conflict,),
    "DELETE /v1/secrets/{name}": (errors.Conflict,),  # still referenced
    "POST /v1/ai-agents/{slug}/publish": (
        errors.EvalGateFailed,
        errors.LlmNotConfigured,
        errors.UpstreamUnavailable,
    ),
    "POST /v1/ai-agents/{slug}/playground/chat": _A_TURN,
    "POST /v1/embed/{public_token}/chat": (
        errors.Unauthorized,  # the agent wants a visitor token
        errors.OriginNotAllowed,
        *_A_TURN,
    ),
}
