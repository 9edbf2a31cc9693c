"""Eval routes of an agent: inputs and assertions that gate publishing."""

from fastapi import Response

from convoship.http.deps import Editor, Viewer, WorkspaceRead, WorkspaceTx
from convoship.http.routing import api_router
from convoship.studio import evals
from convoship.studio.evals import EvalSpec

from .models_common import ItemId
from .models_evals import EvalList, EvalOut, EvalPatch

router = api_router(prefix="/v1/ai-agents/{slug}/evals", tags=("evals",))


@router.get("", response_model=EvalList)
async def list_evals(slug: str, ctx: Viewer, tx: WorkspaceRead) -> EvalList:
    """The agent's evals, oldest first."""
    return EvalList.model_validate({"items": evals.list_evals(tx, ctx.workspace_id, slug)})


@router.post("", response_model=EvalOut, status_code=201)
async def create_eval(slug: str, body: EvalSpec, ctx: Editor, tx: WorkspaceTx) -> EvalOut:
    """Add an eval: an input and 1..50 assertions (contains, not_contains, equals, regex,
    llm_rubric)."""
    return EvalOut.model_validate(evals.create_eval(tx, ctx.actor, slug, body))


@router.get("/{id}", response_model=EvalOut)
async def get_eval(slug: str, eval_id: ItemId, ctx: Viewer, tx: WorkspaceRead) -> EvalOut:
    """One eval of the agent."""
    return EvalOut.model_validate(evals.get_eval(tx, ctx.workspace_id, slug, eval_id))


@router.patch("/{id}", response_model=EvalOut)
async def patch_eval(
    slug: str, eval_id: ItemId, body: EvalPatch, ctx: Editor, tx: WorkspaceTx
) -> EvalOut:
    """Change an eval's name, input or assertions (the list is replaced whole)."""
    return EvalOut.model_validate(evals.update_eval(tx, ctx.actor, slug, eval_id, body.changes()))


@router.delete("/{id}", status_code=204, response_class=Response)
async def delete_eval(slug: str, eval_id: ItemId, ctx: Editor, tx: WorkspaceTx) -> Response:
    """Remove an eval."""
    evals.delete_eval(tx, ctx.actor, slug, eval_id)
    return Response(status_code=204)
