"""Guardrail routes of an agent: one guardrail per kind, config validated per kind."""

from fastapi import Response

from convoship.http.deps import Editor, Viewer, WorkspaceRead, WorkspaceTx
from convoship.http.routing import api_router
from convoship.studio import guardrails

from .models_common import ItemId
from .models_guardrails import GuardrailIn, GuardrailList, GuardrailOut, GuardrailPatch

router = api_router(prefix="/v1/ai-agents/{slug}/guardrails", tags=("guardrails",))


@router.get("", response_model=GuardrailList)
async def list_guardrails(slug: str, ctx: Viewer, tx: WorkspaceRead) -> GuardrailList:
    """The agent's guardrails in the order AUTH, LIMIT, REDACT, ESCALATE, BUDGET."""
    rows = guardrails.list_guardrails(tx, ctx.workspace_id, slug)
    return GuardrailList.model_validate({"items": rows})


@router.post("", response_model=GuardrailOut, status_code=201)
async def create_guardrail(
    slug: str, body: GuardrailIn, ctx: Editor, tx: WorkspaceTx
) -> GuardrailOut:
    """Add a guardrail of a kind the agent lacks (409 when it has one already)."""
    row = guardrails.create_guardrail(
        tx, ctx.actor, slug, kind=body.kind, config=body.config, enabled=body.enabled
    )
    return GuardrailOut.model_validate(row)


@router.get("/{id}", response_model=GuardrailOut)
async def get_guardrail(
    slug: str, guardrail_id: ItemId, ctx: Viewer, tx: WorkspaceRead
) -> GuardrailOut:
    """One guardrail of the agent."""
    return GuardrailOut.model_validate(
        guardrails.get_guardrail(tx, ctx.workspace_id, slug, guardrail_id)
    )


@router.patch("/{id}", response_model=GuardrailOut)
async def patch_guardrail(
    slug: str, guardrail_id: ItemId, body: GuardrailPatch, ctx: Editor, tx: WorkspaceTx
) -> GuardrailOut:
    """Enable or disable a guardrail, or change its config (merged, then validated)."""
    row = guardrails.update_guardrail(tx, ctx.actor, slug, guardrail_id, body.changes())
    return GuardrailOut.model_validate(row)


@router.delete("/{id}", status_code=204, response_class=Response)
async def delete_guardrail(
    slug: str, guardrail_id: ItemId, ctx: Editor, tx: WorkspaceTx
) -> Response:
    """Remove a guardrail from the agent."""
    guardrails.delete_guardrail(tx, ctx.actor, slug, guardrail_id)
    return Response(status_code=204)
