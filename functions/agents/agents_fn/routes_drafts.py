"""Wizard draft routes: free-form JSON saved while an agent is being set up."""

from fastapi import Response

from convoship.http.deps import Editor, WorkspaceRead, WorkspaceTx
from convoship.http.routing import api_router
from convoship.studio import drafts

from .models_common import ItemId
from .models_drafts import DraftIn, DraftList, DraftOut

router = api_router(prefix="/v1/ai-agent-drafts", tags=("drafts",))


@router.get("", response_model=DraftList)
async def list_drafts(ctx: Editor, tx: WorkspaceRead) -> DraftList:
    """The workspace's wizard drafts, most recently saved first."""
    return DraftList.model_validate({"items": drafts.list_drafts(tx, ctx.workspace_id)})


@router.post("", response_model=DraftOut, status_code=201)
async def create_draft(body: DraftIn, ctx: Editor, tx: WorkspaceTx) -> DraftOut:
    """Save a new draft (data: a JSON object of at most 256 KiB)."""
    return DraftOut.model_validate(drafts.create_draft(tx, ctx.actor, body.data))


@router.get("/{id}", response_model=DraftOut)
async def get_draft(draft_id: ItemId, ctx: Editor, tx: WorkspaceRead) -> DraftOut:
    """One draft."""
    return DraftOut.model_validate(drafts.get_draft(tx, ctx.workspace_id, draft_id))


@router.patch("/{id}", response_model=DraftOut)
async def patch_draft(draft_id: ItemId, body: DraftIn, ctx: Editor, tx: WorkspaceTx) -> DraftOut:
    """Replace a draft's data."""
    return DraftOut.model_validate(drafts.update_draft(tx, ctx.actor, draft_id, body.data))


@router.delete("/{id}", status_code=204, response_class=Response)
async def delete_draft(draft_id: ItemId, ctx: Editor, tx: WorkspaceTx) -> Response:
    """Delete a draft."""
    drafts.delete_draft(tx, ctx.actor, draft_id)
    return Response(status_code=204)
