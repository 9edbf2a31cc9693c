"""Read-only history of an agent: published versions, conversations, audit events."""

from typing import Annotated

from fastapi import Path, Query

from convoship.http.deps import Viewer, WorkspaceRead
from convoship.http.routing import api_router
from convoship.studio import history

from .models_common import ItemId
from .models_history import (
    AuditEventPage,
    ConversationOut,
    ConversationPage,
    VersionList,
    VersionOut,
)

router = api_router(prefix="/v1/ai-agents/{slug}", tags=("history",))
Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str | None, Query(max_length=512)]


@router.get("/versions", response_model=VersionList)
async def list_versions(slug: str, ctx: Viewer, tx: WorkspaceRead) -> VersionList:
    """Published versions (immutable snapshots with their eval results), newest first."""
    rows = history.list_versions(tx, ctx.workspace_id, slug)
    return VersionList.model_validate({"items": rows})


@router.get("/versions/{n}", response_model=VersionOut)
async def get_version(
    slug: str, n: Annotated[int, Path(ge=1)], ctx: Viewer, tx: WorkspaceRead
) -> VersionOut:
    """One published version by number."""
    return VersionOut.model_validate(history.get_version(tx, ctx.workspace_id, slug, n))


@router.get("/conversations", response_model=ConversationPage)
async def list_conversations(
    slug: str, ctx: Viewer, tx: WorkspaceRead, limit: Limit = 50, cursor: Cursor = None
) -> ConversationPage:
    """Conversations, newest first; follow next_cursor for older ones."""
    items, next_cursor = history.list_conversations(
        tx, ctx.workspace_id, slug, limit=limit, cursor=cursor
    )
    return ConversationPage.model_validate({"items": items, "next_cursor": next_cursor})


@router.get("/conversations/{id}", response_model=ConversationOut)
async def get_conversation(
    slug: str, conversation_id: ItemId, ctx: Viewer, tx: WorkspaceRead
) -> ConversationOut:
    """A transcript as persisted (after redaction), messages in order."""
    row = history.get_conversation(tx, ctx.workspace_id, slug, conversation_id)
    return ConversationOut.model_validate(row)


@router.get("/audit-events", response_model=AuditEventPage)
async def list_audit_events(
    slug: str, ctx: Viewer, tx: WorkspaceRead, limit: Limit = 50, cursor: Cursor = None
) -> AuditEventPage:
    """Who changed what on this agent, newest first; follow next_cursor for older events."""
    items, next_cursor = history.list_audit_events(
        tx, ctx.workspace_id, slug, limit=limit, cursor=cursor
    )
    return AuditEventPage.model_validate({"items": items, "next_cursor": next_cursor})
