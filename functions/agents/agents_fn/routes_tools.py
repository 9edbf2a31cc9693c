"""Tool routes of an agent: HTTP tools whose url, headers and body may use secrets."""

from fastapi import Response

from convoship.core.settings import get_settings
from convoship.http.deps import Editor, Viewer, WorkspaceRead, WorkspaceTx
from convoship.http.routing import api_router
from convoship.studio import tools
from convoship.studio.tool_spec import ToolSpec

from .models_common import ItemId
from .models_tools import ToolList, ToolOut, ToolPatch

router = api_router(prefix="/v1/ai-agents/{slug}/tools", tags=("tools",))


@router.get("", response_model=ToolList)
async def list_tools(slug: str, ctx: Viewer, tx: WorkspaceRead) -> ToolList:
    """The agent's tools, by name."""
    return ToolList.model_validate({"items": tools.list_tools(tx, ctx.workspace_id, slug)})


@router.post("", response_model=ToolOut, status_code=201)
async def create_tool(slug: str, body: ToolSpec, ctx: Editor, tx: WorkspaceTx) -> ToolOut:
    """Add a tool; every {{secret:NAME}} it references must be a workspace secret."""
    allow_private = get_settings().allow_private_network
    row = tools.create_tool(tx, ctx.actor, slug, body, allow_private=allow_private)
    return ToolOut.model_validate(row)


@router.get("/{id}", response_model=ToolOut)
async def get_tool(slug: str, tool_id: ItemId, ctx: Viewer, tx: WorkspaceRead) -> ToolOut:
    """One tool of the agent."""
    return ToolOut.model_validate(tools.get_tool(tx, ctx.workspace_id, slug, tool_id))


@router.patch("/{id}", response_model=ToolOut)
async def patch_tool(
    slug: str, tool_id: ItemId, body: ToolPatch, ctx: Editor, tx: WorkspaceTx
) -> ToolOut:
    """Change a tool (config merged onto the current one); audited with before and after."""
    allow_private = get_settings().allow_private_network
    row = tools.update_tool(
        tx, ctx.actor, slug, tool_id, body.changes(), allow_private=allow_private
    )
    return ToolOut.model_validate(row)


@router.delete("/{id}", status_code=204, response_class=Response)
async def delete_tool(slug: str, tool_id: ItemId, ctx: Editor, tx: WorkspaceTx) -> Response:
    """Remove a tool; the secrets it referenced become deletable."""
    tools.delete_tool(tx, ctx.actor, slug, tool_id)
    return Response(status_code=204)
