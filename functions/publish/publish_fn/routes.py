"""POST /v1/ai-agents/{slug}/publish."""

from convoship.http.deps import Editor
from convoship.http.models import VersionOut
from convoship.http.routing import api_router
from convoship.publish import publish as publishing

from .models import PublishIn

router = api_router(tags=("publish",))


@router.post(
    "/v1/ai-agents/{slug}/publish",
    status_code=201,
    response_model=VersionOut,
    responses={
        422: {"description": "eval-gate-failed (pass_rate, threshold, eval_results) or invalid"},
        502: {"description": "upstream-unavailable: the model failed while running evals"},
        503: {"description": "llm-not-configured, or a dependency is down"},
    },
)
async def publish(slug: str, ctx: Editor, body: PublishIn | None = None) -> VersionOut:
    """Run the eval gate against the draft (when the workspace threshold is above 0) and
    freeze config, guardrails and tools into the next version."""
    note = body.note if body is not None else None
    return VersionOut.model_validate(publishing.publish(ctx.actor, slug, note))
