"""Agent routes: create (with default guardrails), list, read, update, delete."""

from fastapi import Response

from convoship.http.deps import Editor, Viewer, WorkspaceRead, WorkspaceTx
from convoship.http.routing import api_router
from convoship.studio import agents

from .models_agents import AgentCreated, AgentIn, AgentList, AgentOut, AgentPatch

router = api_router(prefix="/v1/ai-agents", tags=("agents",))


@router.post("", response_model=AgentCreated, status_code=201)
async def create_agent(body: AgentIn, ctx: Editor, tx: WorkspaceTx) -> AgentCreated:
    """Create an agent with its public token and the five default guardrails."""
    agent, guardrails = agents.create_agent(
        tx,
        ctx.actor,
        name=body.name,
        slug=body.slug,
        description=body.description,
        config=body.config,
    )
    return AgentCreated.model_validate({**agent, "guardrails": guardrails})


@router.get("", response_model=AgentList)
async def list_agents(ctx: Viewer, tx: WorkspaceRead) -> AgentList:
    """Every agent of the workspace, by slug."""
    return AgentList.model_validate({"items": agents.list_agents(tx, ctx.workspace_id)})


@router.get("/{slug}", response_model=AgentOut)
async def get_agent(slug: str, ctx: Viewer, tx: WorkspaceRead) -> AgentOut:
    """One agent with its draft config, published version and public token."""
    return AgentOut.model_validate(agents.get_agent(tx, ctx.workspace_id, slug))


@router.patch("/{slug}", response_model=AgentOut)
async def patch_agent(slug: str, body: AgentPatch, ctx: Editor, tx: WorkspaceTx) -> AgentOut:
    """Change name, description and/or config (merged onto the current config)."""
    return AgentOut.model_validate(agents.update_agent(tx, ctx.actor, slug, body.changes()))


@router.delete("/{slug}", status_code=204, response_class=Response)
async def delete_agent(slug: str, ctx: Editor, tx: WorkspaceTx) -> Response:
    """Delete an agent and everything it owns; its audit events stay."""
    agents.delete_agent(tx, ctx.actor, slug)
    return Response(status_code=204)
